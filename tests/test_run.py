"""`tidings run` and `tidings serve` as real processes: polling on schedule, workers, defaults."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tidings.sources import default_sources, read_opml, write_opml

from .conftest import PublisherServer

TIDINGS = [sys.executable, "-m", "tidings"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tidings(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args], env=env, text=True, capture_output=True, timeout=120
    )


def interrupt(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    """Ctrl-C a running command (killed if it does not stop in time); its output."""
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def test_run_serves_and_polls(publisher_server: PublisherServer, cli_env: dict[str, str]) -> None:
    added = tidings("sources", "add", publisher_server.url("/planet/rss.xml"), env=cli_env)
    assert added.returncode == 0, added.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tidings", "run", "--port", str(port)],
        env=cli_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        articles: list[dict] = []
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/api/articles")
            except OSError:
                time.sleep(0.3)
                continue
            if status == 200:
                articles = json.loads(body)["items"]
                if len(articles) == 3:
                    break
            time.sleep(0.3)
        assert len(articles) == 3, "tidings run did not poll the feed within 60 s"
        status, home = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "City council approves new tram line" in home
    finally:
        output = interrupt(proc)
    assert proc.returncode in (0, 130, -signal.SIGINT), output
    assert "default publishers" not in output  # the database had a source already


def test_default_sources_are_real_publishers_indian_first() -> None:
    specs = default_sources()
    names = list(dict.fromkeys(s.name for s in specs))
    assert names[:6] == [
        "Zee News",
        "The Hindu",
        "NDTV",
        "The Indian Express",
        "Hindustan Times",
        "The Times of India",
    ]
    assert {"BBC News", "Al Jazeera", "CBC News", "The Guardian"} <= set(names)
    assert all(s.feed_url.startswith("https://") for s in specs)
    assert all(s.country and s.language for s in specs)
    # the list survives an OPML round trip
    groups = [(s, [s.feed_url]) for s in specs]
    assert [s.feed_url for s in read_opml(write_opml(groups))] == [s.feed_url for s in specs]


def test_help_and_settings_commands() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    result = tidings("--help", env=env)
    assert result.returncode == 0 and "sources" in result.stdout and "fetch" in result.stdout
    result = tidings("settings", env=dict(env, TIDINGS_SITE_NAME="My News", COLUMNS="200"))
    assert result.returncode == 0 and "My News" in result.stdout


def spawned_children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` and that multiprocessing spawned (uvicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry))
    return found


def test_serve_with_workers_shares_one_port(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """`tidings serve --workers 2`: two processes answer on one port, each with the settings
    of the file named by --config (the site name shows in the pages)."""
    config = tmp_path / "site.toml"
    config.write_text('[tidings]\nsite_name = "Workers Test Site"\n', encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [*TIDINGS, "--config", str(config), "serve", "--port", str(port), "--workers", "2"],
        env=cli_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path.parent,  # the file is found through --config, not the working directory
    )
    try:
        deadline = time.monotonic() + 60
        status, home = 0, ""
        while time.monotonic() < deadline:
            try:
                status, home = get(f"http://127.0.0.1:{port}/")
                if status == 200 and len(spawned_children(proc.pid)) == 2:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert status == 200 and "Workers Test Site" in home
        assert len(spawned_children(proc.pid)) == 2
        for _ in range(10):  # every answer, whichever process gives it, uses the file's settings
            status, page = get(f"http://127.0.0.1:{port}/search?q=tram")
            assert status == 200 and "Workers Test Site" in page
    finally:
        output = interrupt(proc)
    assert "2 processes" in output, output
    assert not spawned_children(proc.pid)


def test_serve_refuses_zero_workers(cli_env: dict[str, str]) -> None:
    result = tidings("serve", "--workers", "0", env=cli_env)
    assert result.returncode != 0 and "workers" in (result.stdout + result.stderr)
    result = tidings("serve", env=dict(cli_env, TIDINGS_WEB_WORKERS="0"))
    assert result.returncode == 1 and "web_workers must be at least 1" in result.stderr
