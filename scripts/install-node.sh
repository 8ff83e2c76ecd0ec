#!/usr/bin/env bash
# Installs Node.js and npm for the FHIR server's end-to-end test
# (tests/e2e/fhirserver_test.go drives `healthd fhir serve` with the npm
# libraries fhir-kit-client, jose and fhir, pinned in
# tests/e2e/fhirclient/package-lock.json), if they are not on PATH: Debian's
# `nodejs` and `npm` packages through apt-get (as root, or with sudo).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if command -v node >/dev/null && command -v npm >/dev/null; then
  exit 0
fi
apt_install "the FHIR client test" nodejs npm
node --version
