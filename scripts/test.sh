#!/usr/bin/env bash
# Install what the tests need and run them all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
set +e
.venv/bin/python -m pytest -ra "$@"
rc=$?
set -e
if [[ $rc == 5 ]]; then
  echo "pytest collected no tests: that is a failure of the test setup, not a pass." >&2
  exit 1
fi
exit $rc
