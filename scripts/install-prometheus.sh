#!/usr/bin/env bash
# Installs Prometheus (with promtool) for the metrics tests
# (tests/e2e/metrics_test.go), if it is not on PATH: Debian's `prometheus`
# package through apt-get (as root, or with sudo). The package's service is not
# used: the test starts its own server with its own configuration. Prints the
# path of the prometheus binary (promtool is beside it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then command -v prometheus; exit 0; fi
apt_install "the metrics tests" prometheus
command -v prometheus
