#!/usr/bin/env bash
# Regenerates everything derived from .proto files, offline:
#   - Go code of healthd's own protos (proto/healthd/**): gogoproto messages and gRPC
#     services (protoc-gen-gocosmos) and REST gateway handlers (protoc-gen-grpc-gateway);
#   - docs/static/openapi.json: the OpenAPI (Swagger 2.0) description of every REST
#     route the node serves (the SDK modules healthd runs, and healthd's own).
# Needs protoc (Debian: protobuf-compiler). The plugins are go.mod `tool` deps, built here.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }

tools=build/tools
mkdir -p "$tools"
go build -o "$tools/" \
  github.com/cosmos/gogoproto/protoc-gen-gocosmos \
  github.com/grpc-ecosystem/grpc-gateway/protoc-gen-grpc-gateway \
  github.com/grpc-ecosystem/grpc-gateway/protoc-gen-swagger
export PATH="$PWD/$tools:$PATH"

moddir() { go list -m -f '{{.Dir}}' "$1"; }
SDK=$(moddir github.com/cosmos/cosmos-sdk)
GOGO=$(moddir github.com/cosmos/gogoproto)
COSMOS_PROTO=$(moddir github.com/cosmos/cosmos-proto)
GATEWAY=$(moddir github.com/grpc-ecosystem/grpc-gateway)
includes=(-I "$SDK/proto" -I "$GOGO" -I "$COSMOS_PROTO/proto" -I "$GATEWAY/third_party/googleapis")
if [ -d proto ]; then includes=(-I proto "${includes[@]}"); fi

# 1. Go code for healthd's protos, one package directory at a time.
out=$(mktemp -d)
mkdir -p "$out/swagger"
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$out"' EXIT
mapfile -t dirs < <(find proto/healthd -name '*.proto' -exec dirname {} \; 2>/dev/null | sort -u)
for dir in "${dirs[@]}"; do
  protoc "${includes[@]}" \
    --gocosmos_out=plugins=grpc,Mgoogle/protobuf/any.proto=github.com/cosmos/gogoproto/types/any:"$out" \
    --grpc-gateway_out=logtostderr=true,allow_colon_final_segments=true:"$out" \
    "$dir"/*.proto
done
if [ -d "$out/github.com/healthd-chain/healthd" ]; then
  cp -r "$out/github.com/healthd-chain/healthd/." .
fi

# 2. OpenAPI: the query and service protos whose REST routes the node registers
#    (app.RegisterAPIRoutes), merged into one description.
api_protos=(
  cosmos/auth/v1beta1/query.proto
  cosmos/bank/v1beta1/query.proto
  cosmos/base/node/v1beta1/query.proto
  cosmos/base/tendermint/v1beta1/query.proto
  cosmos/consensus/v1/query.proto
  cosmos/distribution/v1beta1/query.proto
  cosmos/evidence/v1beta1/query.proto
  cosmos/feegrant/v1beta1/query.proto
  cosmos/gov/v1/query.proto
  cosmos/gov/v1beta1/query.proto
  cosmos/slashing/v1beta1/query.proto
  cosmos/staking/v1beta1/query.proto
  cosmos/tx/v1beta1/service.proto
  cosmos/upgrade/v1beta1/query.proto
)
while IFS= read -r f; do api_protos+=("${f#proto/}"); done < <(find proto/healthd -name 'query.proto' 2>/dev/null | sort)
# protoc-gen-swagger's own merge refuses files of different Go packages, so each
# file gets its own description and tools/openapi merges them.
specs=()
for f in "${api_protos[@]}"; do
  protoc "${includes[@]}" \
    --swagger_out=fqn_for_swagger_name=true,include_package_in_tags=true:"$out/swagger" "$f"
  specs+=("$out/swagger/${f%.proto}.swagger.json")
done
mkdir -p docs/static
go run ./tools/openapi -out docs/static/openapi.json "${specs[@]}"
echo "proto-gen: ${#dirs[@]} healthd proto package(s), ${#api_protos[@]} API proto file(s) -> docs/static/openapi.json"
