"""Structured logs: ``log_format = json`` writes one JSON object per line to stderr.

Each line has ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, ``pid``
and every ``extra={...}`` field the caller passed (``feed_id``, ``job_id``,
``outcome`` ...), plus ``exc`` with the traceback when there is one. Log
shippers (Loki, Vector, journald, CloudWatch) read these lines as they are.

Written by hand on the standard library's ``logging``: the formatter is
twenty lines, and a dependency (python-json-logger) would add nothing the
stdlib ``json`` module does not already do.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

# attributes every LogRecord has; anything else on a record came from ``extra=``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": os.getpid(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def use_json_logs(level: str | int) -> None:
    """Replace the root handlers with one JSON-lines handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
