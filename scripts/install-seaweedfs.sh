#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (Apache-2.0) at a pinned version, once, for the
# vault's object-store tests, and prints its path. It is not a dependency of
# the healthd module: the source comes from the Go module proxy
# (`go mod download`), and it is built there (`go install …/weed@version`
# refuses it: its go.mod has a replace directive). The binary is cached in
# $HEALTHD_TOOLS (default ~/.cache/healthd-tools); the first build on a
# 2-core machine takes several minutes.
set -euo pipefail
version="v0.0.0-20261109003541-7506e5f91cd6"
tools="${HEALTHD_TOOLS:-$HOME/.cache/healthd-tools}"
bin="$tools/seaweedfs-$version/weed"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$(dirname "$bin")"
dir=$(go mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -nE 's/^\t"Dir": "(.*)",$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir/weed" ]; then
  echo "could not download github.com/seaweedfs/seaweedfs@$version from the module proxy" >&2
  exit 1
fi
echo "building SeaweedFS $version (once; several minutes) …" >&2
(cd "$dir" && go build -o "$bin.tmp" ./weed)
mv "$bin.tmp" "$bin"
echo "$bin"
