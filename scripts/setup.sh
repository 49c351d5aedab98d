#!/usr/bin/env bash
# Creates ./.venv with everything the provider, the local backend, the tests and the demo need.
# Idempotent and fast on a second run. Uses uv when it can (seconds), installing it with pip first.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install --quiet --disable-pip-version-check uv
fi
UV="$(command -v uv || echo "$PY -m uv")"

# VENV picks the environment (scripts/test.sh makes .venv-af31 / .venv-af32 for the other Airflow minors).
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  $UV venv --quiet --python "$PY" "$VENV"
fi
export VIRTUAL_ENV="$PWD/$VENV"
# --compile-bytecode: this environment sets PYTHONDONTWRITEBYTECODE=1, and without .pyc files every
# `import airflow.sdk` costs twice as long (docs/airflow-notes in the team's shared material).
# The provider supports apache-airflow>=3.1.0 and pins none of Airflow's packages; the versions the
# suite runs on are in constraints/airflow-<version>.txt (AIRFLOW_VERSION picks one, default the newest).
. scripts/airflow-versions.sh
AIRFLOW_VERSION="${AIRFLOW_VERSION:-$PINNED_AIRFLOW}"
CONSTRAINTS="constraints/airflow-${AIRFLOW_VERSION}.txt"
if [ ! -f "$CONSTRAINTS" ]; then
  echo "no $CONSTRAINTS: tested versions are $TESTED_AIRFLOWS" >&2
  exit 2
fi
# Two distributions from this checkout, both editable: the provider and the offline backend (nemo-local).
$UV pip install --quiet --compile-bytecode -e ".[dev]" -e ./packages/nemo-local \
  "apache-airflow==${AIRFLOW_VERSION}" -c "$CONSTRAINTS"
bash scripts/install-fonts.sh "$VIRTUAL_ENV/bin/python"  # a CJK font for Chinese titles (apt-get, once)
echo "environment ready: $VIRTUAL_ENV (apache-airflow ${AIRFLOW_VERSION})"
