#!/usr/bin/env bash
# README's test command. Sets up the environment if needed, lints, type-checks, builds both
# distributions (python -m build + twine check), runs every test on the pinned Airflow, then runs the
# provider's unit tests and one example DAG end to end (dag.test() against nemo_local) on the newest
# patch of each other supported Airflow minor, each in its own venv (.venv-af31, .venv-af32), side by side.
#
#   bash scripts/test.sh                      everything (what CI runs)
#   bash scripts/test.sh tests/client -x      the pinned Airflow only, with these pytest arguments
#   bash scripts/test.sh --airflow 3.1.8      only the provider subset on that Airflow (the newest: full suite)
set -euo pipefail
cd "$(dirname "$0")/.."

# PINNED_AIRFLOW (the newest: full suite) and OTHER_AIRFLOWS (the newest patch of each other
# supported minor: the provider subset), read from constraints/airflow-*.txt
. scripts/airflow-versions.sh
# The provider's unit tests and one end-to-end example DAG: what the other minors must pass.
PROVIDER_TESTS=(
  tests/client tests/hooks tests/operators tests/sensors tests/triggers tests/test_get_provider_info.py
  "tests/example_dags/test_example_dags.py::test_dagbag_loads_every_example_without_errors"
  "tests/example_dags/test_example_dags.py::test_generate_from_ui_runs_green"
)

only_airflow=""
if [ "${1:-}" = "--airflow" ]; then
  only_airflow="${2:?--airflow needs a version, e.g. --airflow 3.1.8}"
  shift 2
fi
others="$OTHER_AIRFLOWS"
[ $# -gt 0 ] && others=""  # explicit pytest arguments: a quick run on the pinned Airflow only

pytest_rc() {  # pytest's "collected no tests" (5) is a failure here
  local rc=$1
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    return 1
  fi
  return "$rc"
}

other_airflow() {  # $1 = version: its own venv, its constraints, the provider subset
  local version=$1 venv
  venv=".venv-af$(echo "$version" | cut -d. -f1,2 | tr -d .)"
  echo "== Airflow ${version}: provider unit tests + one example DAG end to end (${venv})"
  AIRFLOW_VERSION="$version" VENV="$venv" bash scripts/setup.sh
  set +e
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "${PROVIDER_TESTS[@]}"
  local rc=$?
  set -e
  pytest_rc "$rc"
}

if [ -n "$only_airflow" ] && [ "$only_airflow" != "$PINNED_AIRFLOW" ]; then
  other_airflow "$only_airflow"
  exit $?
fi

bash scripts/setup.sh
bash scripts/install-browser.sh  # Debian's chromium for tests/ui (Playwright drives it)
. .venv/bin/activate

echo "== ruff"
ruff check nemo_provider nemo_local tests bench example_dags
ruff format --check nemo_provider nemo_local tests bench example_dags
echo "== mypy"
mypy nemo_provider

echo "== build + twine check (both distributions)"
dist="$(mktemp -d)"
trap 'rm -rf "$dist"' EXIT
version="$(python -c 'import nemo_provider; print(nemo_provider.__version__)')"
# a release build: the local extra names nemo-local==<version>, not this checkout's path
NEMO_LOCAL_REQUIREMENT="nemo-local==${version}" python -m build --installer uv --outdir "$dist" . >"$dist/build.log" 2>&1 ||
  { cat "$dist/build.log"; exit 1; }
python -m build --installer uv --outdir "$dist" packages/nemo-local >"$dist/build.log" 2>&1 ||
  { cat "$dist/build.log"; exit 1; }
rm -f "$dist/build.log"
twine check --strict "$dist"/*
export NEMO_DIST_DIR="$dist"  # tests/test_packaging*.py check these very files

echo "== pytest (Airflow ${PINNED_AIRFLOW})"
bash scripts/install-services.sh  # PostgreSQL + Redis for tests/e2e/distributed (apt-get only when missing)
set +e
python -m pytest "$@"
rc=$?
set -e
pytest_rc "$rc"

# The other minors run side by side (each mostly waits on its nemo_local and Airflow's start-up), each
# into its own log, printed when it ends.
pids=()
logs=()
for version in $others; do
  log="$(mktemp)"
  logs+=("$log")
  other_airflow "$version" >"$log" 2>&1 &
  pids+=("$!")
done
rc=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || rc=1
  cat "${logs[$i]}"
  rm -f "${logs[$i]}"
done
exit "$rc"
