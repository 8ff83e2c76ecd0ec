#!/usr/bin/env bash
# Builds cosmovisor (Apache-2.0), the Cosmos SDK's process manager for
# software upgrades, at a pinned version, once, and prints its path. The
# upgrade test runs the 4-validator network under it; docs/operations.md
# tells operators to run it the same way.
#
# Version: v1.5.0. The issue asked for v1.7.1, but the Go module proxy this
# machine reaches refuses v1.7.1's source ("403 This module version is not
# available", tried 2026-12-02), as it refuses v1.7.0, v1.6.x, v1.5.1 and
# v1.4.0; v1.5.0 is served. It watches data/upgrade-info.json and swaps
# cosmovisor/current the same way later versions do. `go install …@version`
# fails on the refused sub-path lookup, so the source is downloaded with
# `go mod download` and built there (its own go.mod pins its dependencies).
# The binary is cached in $HEALTHD_TOOLS (default ~/.cache/healthd-tools).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
version="v1.5.0"
tools="${HEALTHD_TOOLS:-$HOME/.cache/healthd-tools}"
build_module_tool cosmossdk.io/tools/cosmovisor "$version" cmd/cosmovisor "$tools/cosmovisor-$version/cosmovisor"
