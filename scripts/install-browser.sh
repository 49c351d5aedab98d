#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/ui): Playwright drives it through executable_path,
# because `playwright install` cannot download its own browser builds here. Idempotent: apt-get runs
# only when no chromium is on PATH.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-browser: chromium is missing and this is not root; run: sudo apt-get install -y chromium" >&2
  exit 1
fi
echo "install-browser: installing Debian's chromium (one time)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
