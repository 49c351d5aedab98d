#!/usr/bin/env bash
# README's first command: sets up the environment, then runs the weekly background-track DAG against a
# local, offline Nemo server and prints where the playable files are. No token, no manual step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
