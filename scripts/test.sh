#!/usr/bin/env bash
# README's test command: set up the environment from scratch if needed, lint, type-check, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-browser.sh  # Debian's chromium for tests/ui (Playwright drives it)
. .venv/bin/activate

echo "== ruff"
ruff check nemo_provider nemo_local tests bench example_dags
ruff format --check nemo_provider nemo_local tests bench example_dags
echo "== mypy"
mypy nemo_provider

echo "== pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
