#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; it never downloads its own).
set -uo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1) \
    || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    >/dev/null 2>&1
fi
if [ -x /usr/bin/chromium ]; then
  echo "browser tests: $(/usr/bin/chromium --version 2>/dev/null)"
else
  echo "browser tests: /usr/bin/chromium could not be installed; they will be skipped" >&2
fi
