#!/bin/sh
# Browser tests drive Debian's Chromium. Install it when missing and we may;
# otherwise stop with one line saying what to do. Never skip silently.
# The colour emoji font is only for screenshots (reactions): installed when we may, never required.
set -e
CHROMIUM=${STOOP_CHROMIUM:-/usr/bin/chromium}
can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }
if can_apt && [ ! -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq >/dev/null && apt-get install -y -qq fonts-noto-color-emoji >/dev/null) ||
    echo "Could not install fonts-noto-color-emoji: screenshots show emoji as boxes (tests are not affected)." >&2
fi
[ -x "$CHROMIUM" ] && exit 0
if can_apt; then
  echo "Installing Debian's chromium for the browser tests (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
  [ -x "$CHROMIUM" ] && exit 0
fi
echo "Browser tests need Chromium at $CHROMIUM: run 'sudo apt-get install -y chromium' (or set STOOP_CHROMIUM) and retry." >&2
exit 1
