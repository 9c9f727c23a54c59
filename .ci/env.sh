# Shared by .ci/serve and .ci/run: a project virtualenv with the project installed.
# Sourced, not run. Re-running is cheap: pip only installs what changed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# pip's notes about this machine's local package mirrors are noise; errors still show.
quiet_pip() {
  "$@" 2> >(grep -v -e "^WARNING: Location" -e "BuildBackendWarning" -e "^ *!!" -e "^ *\*\*\*" \
    -e "Please be careful with folders" -e "name as your package" -e "with strategy, WheelFile" \
    -e "^ *$" >&2)
}
quiet_pip .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
target="."
[ -n "${EXTRAS:-}" ] && target=".[${EXTRAS}]"
quiet_pip .venv/bin/python -m pip install -q --disable-pip-version-check -e "$target"
export PATH="$ROOT/.venv/bin:$PATH"
