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
version="v1.5.0"
tools="${HEALTHD_TOOLS:-$HOME/.cache/healthd-tools}"
bin="$tools/cosmovisor-$version/cosmovisor"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$(dirname "$bin")"
dir=$(go mod download -json "cosmossdk.io/tools/cosmovisor@$version" | sed -nE 's/^\t"Dir": "(.*)",$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir/cmd/cosmovisor" ]; then
  echo "could not download cosmossdk.io/tools/cosmovisor@$version from the module proxy" >&2
  exit 1
fi
echo "building cosmovisor $version (once; about a minute) …" >&2
(cd "$dir" && go build -o "$bin.tmp" ./cmd/cosmovisor)
mv "$bin.tmp" "$bin"
echo "$bin"
