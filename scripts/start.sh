#!/usr/bin/env bash
# Install (if needed) and start Candor on embedded defaults: SQLite, local recordings, in-process workers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python run.py serve "$@"
