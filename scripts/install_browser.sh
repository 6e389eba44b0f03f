#!/bin/sh
# Install Debian's Chromium for the browser tests (tests/test_browser.py), only when missing.
# Playwright drives this system browser; never `playwright install` (it downloads at run time).
set -eu
if [ -x /usr/bin/chromium ]; then
    echo "chromium already present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "need root (or sudo) to apt-get install chromium" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
