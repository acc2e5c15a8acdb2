"""One JSON parser for every request body and socket message: size and nesting limits."""

from __future__ import annotations

import json
from typing import Any

from server.errors import BadInput, TooLarge

MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed value (a scalar is depth 0)."""
    depth, level = 0, [(value, 1)]
    while level:
        item, d = level.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                level.append((child, d + 1))
        if isinstance(item, dict | list):
            depth = max(depth, d)
    return depth


def parse_json(
    raw: str | bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse JSON text; BadInput (400) when invalid or nested too deeply, TooLarge (413)."""
    if len(raw) > max_bytes:
        raise TooLarge(f"The JSON text is larger than {max_bytes // 1024} KB.")
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise BadInput(f"The JSON nests deeper than {max_depth} levels.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput("The text is not valid JSON.") from exc
    if json_depth(value) > max_depth:
        raise BadInput(f"The JSON nests deeper than {max_depth} levels.")
    return value
