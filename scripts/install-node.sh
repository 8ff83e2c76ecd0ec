#!/usr/bin/env bash
# Installs Node.js and npm for the FHIR server's end-to-end test
# (tests/e2e/fhirserver_test.go drives `healthd fhir serve` with the npm
# libraries fhir-kit-client, jose and fhir, pinned in
# tests/e2e/fhirclient/package-lock.json), if they are not on PATH: Debian's
# `nodejs` and `npm` packages through apt-get (as root, or with sudo).
set -euo pipefail
if command -v node >/dev/null && command -v npm >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "no node/npm, and no apt-get to install them: install Node.js 18 or later with npm, and put them on PATH" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing nodejs and npm (Debian packages) for the FHIR client test …" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
node --version
