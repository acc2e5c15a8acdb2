"""A small, seeded, bounded mutation fuzzer: JSON values, text and line-based mutations."""

from __future__ import annotations

import json
import random
from typing import Any

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "null",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "'; DROP TABLE users; --",
    "王芳" * 50,
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "x" * 5000,
    "%s%n%x",
    "1e309",
    "NaN",
    "-0",
    "\u202e",
]
NASTY_NUMBERS: list[Any] = [0, -1, 1, 2**31, 2**63, -(2**63), 10**30, 1e308, -1e-308, 0.5, True]


def json_value(rng: random.Random, depth: int = 0, keys: list[str] | None = None) -> Any:
    """A random JSON value; object keys are drawn partly from ``keys`` (the route's fields)."""
    roll = rng.random()
    if depth > 4 or roll < 0.35:
        choice = rng.randrange(5)
        if choice == 0:
            return rng.choice(NASTY_STRINGS)
        if choice == 1:
            return rng.choice(NASTY_NUMBERS)
        if choice == 2:
            return None
        if choice == 3:
            return rng.choice([True, False])
        return "".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(12)))
    if roll < 0.55:
        return [json_value(rng, depth + 1, keys) for _ in range(rng.randrange(4))]
    names = (keys or []) + ["type", "id", "x", ""]
    return {
        rng.choice(names) if rng.random() < 0.8 else rng.choice(NASTY_STRINGS)[:50]: json_value(
            rng, depth + 1, keys
        )
        for _ in range(rng.randrange(6))
    }


def mutate_json(rng: random.Random, seed: dict[str, Any], keys: list[str]) -> Any:
    """A valid-looking object with one to three fields changed, dropped or added."""
    value = dict(seed)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(4)
        if op == 0 and value:
            del value[rng.choice(list(value))]
        elif op == 1 and value:
            value[rng.choice(list(value))] = json_value(rng, 2, keys)
        elif op == 2:
            value[rng.choice([*keys, "extra"])] = json_value(rng, 1, keys)
        else:
            return json_value(rng, 0, keys)
    return value


def mutate_text(rng: random.Random, text: str, extras: list[str] | None = None) -> str:
    """Line and byte level mutations: drop, duplicate, swap, splice, truncate, flip."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        i = rng.randrange(len(lines)) if lines else 0
        if op == 0 and lines:
            del lines[i]
        elif op == 1 and lines:
            lines.insert(i, lines[i] * rng.choice([1, 2, 50]))
        elif op == 2 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3 and extras:
            lines.insert(i, rng.choice(extras))
        elif op == 4 and lines and lines[i]:
            k = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:k] + rng.choice(NASTY_STRINGS)[:40] + lines[i][k + 1 :]
        elif op == 5 and lines and lines[i]:
            k = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:k] + chr(rng.randrange(0, 0x2FFF)) + lines[i][k + 1 :]
        elif op == 6:
            lines = lines[: rng.randrange(len(lines) + 1)]
        elif op == 7 and lines:
            digits = [k for k, c in enumerate(lines[i]) if c.isdigit()]
            if digits:
                k = rng.choice(digits)
                big = str(rng.choice(NASTY_NUMBERS))
                lines[i] = lines[i][:k] + big + lines[i][k + 1 :]
    return "\n".join(lines)


def raw_garbage(rng: random.Random) -> str:
    """Text that is mostly not JSON, or JSON nested very deeply."""
    kind = rng.randrange(4)
    if kind == 0:
        n = rng.choice([40, 1000, 20000])
        return '{"type":"ping","x":' + "[" * n + "]" * n + "}"
    if kind == 1:
        return json.dumps(json_value(rng))[: rng.randrange(1, 200)]
    if kind == 2:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 300)))
    return rng.choice(["", "[]", "null", '"type"', "1", '{"type":null}', '{"type":[]}'])
