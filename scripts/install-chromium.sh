#!/usr/bin/env bash
# Installs Chromium for the portal's browser tests (tests/e2e/portal_test.go),
# if none is on PATH: Debian's `chromium` package through apt-get (as root, or
# with sudo). Prints the path of the browser.
set -euo pipefail
for name in chromium chromium-browser google-chrome headless-shell; do
  if command -v "$name" >/dev/null; then command -v "$name"; exit 0; fi
done
if ! command -v apt-get >/dev/null; then
  echo "no Chromium, and no apt-get to install it: install Chromium (or Chrome) and put it on PATH," >&2
  echo "or set HEALTHD_CHROMIUM to its path" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing chromium (Debian package) for the browser tests …" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium
