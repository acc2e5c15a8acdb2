"""Write web_client/protocol.js from the socket message models (server/protocol.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.protocol_js import OUTPUT, write


def main() -> int:
    """Regenerate the file and say whether it changed."""
    changed = write()
    print(f"{OUTPUT}: {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
