#!/usr/bin/env bash
# Installs Prometheus (with promtool) for the metrics tests
# (tests/e2e/metrics_test.go), if it is not on PATH: Debian's `prometheus`
# package through apt-get (as root, or with sudo). The package's service is not
# used: the test starts its own server with its own configuration. Prints the
# path of the prometheus binary (promtool is beside it).
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then command -v prometheus; exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "no prometheus, and no apt-get to install it: install Prometheus 2.x (prometheus and promtool) on PATH" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing prometheus (Debian package) for the metrics tests …" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v prometheus
