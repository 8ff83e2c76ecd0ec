# healthd — run `make help` for the list of targets.

BINARY      := build/healthd
LOCALNET    := build/localnet
LOCALNET_HOME ?= .localnet
# make test-sim sizes (make test runs the same tests small)
SIM_BLOCKS    ?= 100
SIM_BLOCKSIZE ?= 100
SIM_SEED      ?= 7
SIM_SEEDS     ?= 1000,1002,1003
SIM_RUNS      ?= 3
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS     := -X github.com/cosmos/cosmos-sdk/version.Name=healthd \
               -X github.com/cosmos/cosmos-sdk/version.AppName=healthd \
               -X github.com/cosmos/cosmos-sdk/version.Version=$(VERSION) \
               -X github.com/cosmos/cosmos-sdk/version.Commit=$(COMMIT)
GO          ?= go

.DEFAULT_GOAL := help
.PHONY: help build install localnet localnet-reset localnet-init localnet-4 localnet-4-status localnet-4-stop localnet-4-reset bench bench-state demo test test-unit test-sim test-e2e test-portal-s3 fuzz \
        proto-gen proto-check fmt lint clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build build/healthd (and build/localnet, build/healthd-bench)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BINARY) ./cmd/healthd
	$(GO) build -o $(LOCALNET) ./cmd/localnet
	$(GO) build -o build/healthd-bench ./cmd/healthd-bench

install: ## install healthd into $GOPATH/bin
	$(GO) install -ldflags '$(LDFLAGS)' ./cmd/healthd

localnet: build ## build, init (if needed) and run the config.yml chain in the foreground; resumes an existing one
	$(LOCALNET) -config config.yml -home $(LOCALNET_HOME) -binary $(BINARY) start

localnet-reset: build ## delete the local chain and start a new one from config.yml
	$(LOCALNET) -config config.yml -home $(LOCALNET_HOME) -binary $(BINARY) -reset start

localnet-init: build ## only build the local chain's home (no start)
	$(LOCALNET) -config config.yml -home $(LOCALNET_HOME) -binary $(BINARY) init

localnet-4: build ## build (first time) and start a 4-validator network + vault on loopback in the background (.localnet-4)
	bash scripts/localnet.sh start

localnet-4-status: ## height and app hash of each node of the 4-validator network
	@bash scripts/localnet.sh status

localnet-4-stop: ## stop the 4-validator network (keeps its state; localnet-4-reset deletes it)
	bash scripts/localnet.sh stop

localnet-4-reset: ## stop and delete the 4-validator network
	bash scripts/localnet.sh reset

bench: build ## load benchmark: bank-send and create-record at a ramp of rates on a fresh 1-validator chain, then on 4 validators (about 10 min; bench-out/1-validator, bench-out/4-validators; see docs/benchmarks.md)
	build/healthd-bench -out bench-out/1-validator $(BENCH_ARGS)
	build/healthd-bench -out bench-out/4-validators -validators 4 -rates 100,200,300,400,600 -accounts 3000 $(BENCH_ARGS)

bench-state: build ## state-growth benchmark: CheckAccess and record queries over gRPC with 10k, 100k and 1M records and consents (about 50 min; bench-out/state)
	build/healthd-bench -out bench-out/state -state-sizes $(or $(STATE_SIZES),10000,100000,1000000) $(BENCH_ARGS)

demo: build ## run the whole story (consent, put, get, receipts, revoke, break-glass, erase) on a throw-away chain + vault
	bash scripts/demo.sh

test: ## run every test: unit, integration and end-to-end (starts real nodes; installs node/npm for the FHIR client test if missing)
	bash scripts/install-node.sh
	$(GO) test -count=1 -timeout 30m ./...

test-unit: ## run the tests that start no node (everything but tests/e2e)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /tests/e2e)

test-sim: ## the app simulation at full size: random genesis and transactions of every module, determinism, export/import
	$(GO) test -count=1 -timeout 60m ./app -run 'TestFullAppSimulation|TestAppStateDeterminism|TestAppImportExport' -v \
	  -args -sim.blocks $(SIM_BLOCKS) -sim.blocksize $(SIM_BLOCKSIZE) -sim.seed $(SIM_SEED) -sim.seeds $(SIM_SEEDS) -sim.runs $(SIM_RUNS)

fuzz: ## run every Go fuzz target for FUZZTIME each (default 1m; CI runs 12s each); crashers land in testdata/fuzz (docs/development.md)
	FUZZTIME=$(or $(FUZZTIME),1m) bash scripts/fuzz.sh

test-e2e: ## run only the end-to-end tests (real binaries: one node, a 4-validator network with its fault tests, vaults, the portal in headless Chromium, which it installs)
	bash scripts/install-chromium.sh
	bash scripts/install-node.sh
	HEALTHD_REQUIRE_BROWSER=1 $(GO) test -count=1 -timeout 30m ./tests/e2e/...

test-portal-s3: ## the portal's browser tests with their vault on a SeaweedFS bucket (built by scripts/install-seaweedfs.sh)
	bash scripts/install-chromium.sh
	HEALTHD_REQUIRE_BROWSER=1 HEALTHD_TEST_VAULT_STORE=s3 $(GO) test -count=1 -timeout 20m -run 'TestPortal' ./tests/e2e/

proto-gen: ## regenerate Go code and docs/static/openapi.json from the .proto files (needs protoc)
	bash scripts/protocgen.sh

proto-check: proto-gen ## fail if the generated files are not in sync with the .proto files
	@git diff --exit-code -- '*.pb.go' '*.pb.gw.go' docs/static/openapi.json || \
	  (echo "generated files are out of date: run 'make proto-gen' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- '*.pb.go' '*.pb.gw.go' docs/static)" || \
	  (echo "untracked generated files: run 'make proto-gen' and commit" >&2; git status --porcelain -- '*.pb.go' '*.pb.gw.go' docs/static >&2; exit 1)

fmt: ## format the Go code (gofumpt)
	$(GO) tool gofumpt -w $$(git ls-files --cached --others --exclude-standard '*.go' | grep -v -E '\.pb(\.gw)?\.go$$')

lint: ## check formatting (gofumpt) and run go vet
	@out=$$($(GO) tool gofumpt -l $$(git ls-files --cached --others --exclude-standard '*.go' | grep -v -E '\.pb(\.gw)?\.go$$')); \
	  test -z "$$out" || (echo "not gofumpt-formatted (run 'make fmt'):" >&2; echo "$$out" >&2; exit 1)
	$(GO) vet ./...

clean: ## remove build output (not the local chain: see localnet-reset)
	rm -rf build
