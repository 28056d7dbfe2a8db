"""Quality gate for article extraction, in the style of trafilatura's ``eval_gate``.

Runs ``tidings.extract`` over every page of ``../shared/bench/extraction``,
scores the bodies with the benchmark's own ``score.py`` (as a subprocess, so
the metric is exactly the benchmark's) and fails when F1, precision or recall
falls below the floors pinned in ``tests/data/extract_gate.json``. Lowering a
floor means editing that file, which a reviewer sees. Skips cleanly where
``../shared`` is absent.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path
from tidings.extract import extract

GATE = Path(__file__).parent / "data" / "extract_gate.json"


@pytest.mark.shared
def test_extraction_quality_gate(tmp_path: Path) -> None:
    bench = shared_path("bench", "extraction")
    gold = json.loads((bench / "ground-truth.json").read_text(encoding="utf-8"))
    predictions = {}
    for item_id, item in gold.items():
        page = gzip.decompress((bench / "html" / f"{item_id}.html.gz").read_bytes())
        predictions[item_id] = extract(page, item.get("url") or "").text
    out = tmp_path / "predictions.json"
    out.write_text(json.dumps(predictions, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(bench / "score.py"), str(out), "--bootstrap", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = {
        key: float(m.group(1))
        for key in ("f1", "precision", "recall")
        if (m := re.search(rf"^{key}\s+([\d.]+)", proc.stdout, re.M))
    }
    floors = json.loads(GATE.read_text(encoding="utf-8"))["floors"]
    assert set(got) == set(floors), proc.stdout
    below = {k: (got[k], floors[k]) for k in floors if got[k] < floors[k]}
    assert not below, f"extraction below its pinned floors (got, floor): {below}\n{proc.stdout}"
