#!/usr/bin/env bash
# Run every check on this checkout: setup (idempotent), the full test suite with the
# real services, ruff, mypy --strict on every package, and the offline docs build.
# This is the README's test command and what .ci/run calls.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
t0=$SECONDS
bash scripts/setup.sh || { echo "error: setup failed" >&2; exit 1; }
export PATH="$ROOT/.venv/bin:$PATH"
mkdir -p artifacts

status=0
step() {
  local name=$1; shift
  local t=$SECONDS
  echo "=== $name"
  "$@"
  local rc=$?
  echo "=== $name: exit $rc after $((SECONDS - t)) s"
  return $rc
}

step ruff ruff check . || status=1
step mypy mypy || status=1
step docs sphinx-build -q -W --keep-going -b html docs docs/_build/html || status=1

step pytest python -m pytest -p no:cacheprovider --junitxml=artifacts/junit.xml "$@"
rc=$?
if [ $rc -eq 5 ]; then
  # pytest's "no tests collected": for this suite that means something is broken.
  echo "error: pytest collected no tests" >&2
  status=1
elif [ $rc -ne 0 ]; then
  status=1
fi

echo "=== all checks: $([ $status -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
exit $status
