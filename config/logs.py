"""Structured JSON logs: fixed message text, values in fields (never names or transcripts)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STD and not key.startswith("_"):
                out[key] = (
                    value if isinstance(value, (int, float, bool, type(None))) else str(value)
                )
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "INFO") -> None:
    """Send structured logs to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Database drivers log SQL parameters (personal data) at DEBUG, and the PDF font subsetter
    # (fontTools, under fpdf) logs the glyphs of every report, i.e. the characters of candidate
    # names and answers, at INFO: never let them through.
    for noisy in (
        "aioice",
        "aiortc",
        "alembic.runtime.plugins",
        "aiosqlite",
        "sqlalchemy",
        "fontTools",
        "fpdf",
    ):
        logging.getLogger(noisy).setLevel("WARNING")
