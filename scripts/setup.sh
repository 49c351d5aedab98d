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
# librosa's numba functions write their compiled code beside the package on first use. Compile them once
# here, so the processes of a run (two Celery workers measuring exports at the same moment) read that
# cache instead of all writing it at once (seen to hang two export tasks for minutes in a fresh venv).
"$VIRTUAL_ENV/bin/python" - <<'PY'
import math, os, struct, tempfile, wave
try:
    from nemo_provider.quality import measure
    import librosa  # noqa: F401  (the quality extra)
except ImportError:
    raise SystemExit(0)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "warm.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(2); w.setsampwidth(2); w.setframerate(44100)
        w.writeframes(b"".join(struct.pack("<hh", v, v) for v in
                               (int(8000 * math.sin(2 * math.pi * 440 * i / 44100)) for i in range(3 * 44100))))
    measure(path)
PY
echo "environment ready: $VIRTUAL_ENV (apache-airflow ${AIRFLOW_VERSION})"
