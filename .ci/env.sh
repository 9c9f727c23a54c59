# Shared by .ci/serve and .ci/run: a project virtualenv with the project installed.
# Sourced, not run. Re-running is cheap: pip only installs what changed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
target="."
[ -n "${EXTRAS:-}" ] && target=".[${EXTRAS}]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$target"
export PATH="$ROOT/.venv/bin:$PATH"
