#!/usr/bin/env bash
# PostgreSQL and Redis from Debian, for the distributed-deployment tests (tests/e2e/distributed).
# Idempotent: apt-get runs only when a binary is missing. Nothing is started or enabled here: the
# tests start their own servers on 127.0.0.1 with data in a temp folder and stop them by PID.
set -euo pipefail

missing=()
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if ! command -v redis-server >/dev/null 2>&1; then
  missing+=(redis-server)
fi
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-services: ${missing[*]} missing and not root; install them (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-services: installing ${missing[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101: the packages must not start system-wide services on install.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
# Removed however this script ends (a failed install under set -e would leave it blocking every service).
trap 'if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
