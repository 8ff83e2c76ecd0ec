#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (Apache-2.0) at a pinned version, once, for the
# vault's object-store tests, and prints its path. It is not a dependency of
# the healthd module: the source comes from the Go module proxy
# (`go mod download`), and it is built there (`go install …/weed@version`
# refuses it: its go.mod has a replace directive). The binary is cached in
# $HEALTHD_TOOLS (default ~/.cache/healthd-tools); the first build on a
# 2-core machine takes several minutes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
version="v0.0.0-20261109003541-7506e5f91cd6"
tools="${HEALTHD_TOOLS:-$HOME/.cache/healthd-tools}"
build_module_tool github.com/seaweedfs/seaweedfs "$version" weed "$tools/seaweedfs-$version/weed"
