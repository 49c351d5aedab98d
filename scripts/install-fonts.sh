#!/usr/bin/env bash
# Installs a CJK font (Debian's fonts-wqy-zenhei, 10 MB) so Chinese titles and cover text render as
# glyphs, not boxes. Idempotent: does nothing when nemo_local already finds a CJK font. Without root or
# apt-get it says what to do and carries on (the server then warns once at start-up).
#   bash scripts/install-fonts.sh [python]     python: one with nemo_local importable (default .venv's)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
cjk_font() { "$PY" -c 'import sys; from nemo_local.media.fonts import main; sys.exit(main())'; }

if cjk_font >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
  echo "install-fonts: no CJK font and no root apt-get here; $(cjk_font 2>&1 || true)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei >/dev/null
fi
echo "install-fonts: CJK font $(cjk_font)"
