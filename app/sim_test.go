package app_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	dbm "github.com/cosmos/cosmos-db"

	"cosmossdk.io/log"

	"github.com/cosmos/cosmos-sdk/baseapp"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	"github.com/cosmos/cosmos-sdk/types/module"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"
	"github.com/cosmos/cosmos-sdk/x/simulation"
	stakingsim "github.com/cosmos/cosmos-sdk/x/staking/simulation"

	"github.com/healthd-chain/healthd/app"
)

// The simulation's size. `make test` runs the short defaults; `make test-sim`
// passes larger values.
var (
	simBlocks    = flag.Int("sim.blocks", 30, "blocks per simulation")
	simBlockSize = flag.Int("sim.blocksize", 40, "operations per block")
	simSeed      = flag.Int64("sim.seed", 7, "seed of the full and import/export simulations")
	simSeeds     = flag.String("sim.seeds", "1000,1001", "seeds of the determinism check, comma-separated")
	simRuns      = flag.Int("sim.runs", 2, "runs per seed of the determinism check")
)

const simChainID = "healthd-sim-1"

func newSimApp(t testing.TB) *app.HealthApp {
	t.Helper()
	a, err := app.NewHealthApp(log.NewNopLogger(), dbm.NewMemDB(), nil, true, simtestutil.EmptyAppOptions{},
		baseapp.SetChainID(simChainID))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func simConfig(t testing.TB, seed int64) simtypes.Config {
	// Fixed genesis parameters (the rest is random): healthd validators are
	// admitted by the consortium, so the simulation never creates one (see
	// simOperations) and the set only shrinks; a downtime window longer than
	// the run keeps liveness jailing from emptying it.
	paramsFile := filepath.Join(t.TempDir(), "sim-params.json")
	if err := os.WriteFile(paramsFile, []byte(`{"signed_blocks_window": 100000, "min_signed_per_window": "0.05"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return simtypes.Config{
		Seed: seed, NumBlocks: *simBlocks, BlockSize: *simBlockSize, ChainID: simChainID, Commit: true,
		InitialBlockHeight: 1, GenesisTime: 1_767_225_600, BlockMaxGas: 400_000_000, DBBackend: "memdb", TB: t,
		ParamsFile: paramsFile,
	}
}

// simOperations are every module's weighted operations, except staking's
// create- and edit-validator: on healthd only accounts the consortium approved
// may do that (the ante handler refuses the simulation's random accounts; that
// rule has its own tests).
func simOperations(a *app.HealthApp) []simtypes.WeightedOperation {
	params := simtypes.AppParams{
		stakingsim.OpWeightMsgCreateValidator: json.RawMessage("0"),
		stakingsim.OpWeightMsgEditValidator:   json.RawMessage("0"),
	}
	state := module.SimulationState{AppParams: params, Cdc: a.AppCodec(), TxConfig: a.TxConfig(), BondDenom: app.BondDenom}
	state.ProposalMsgs = a.SimulationManager().GetProposalMsgs(state)
	return a.SimulationManager().WeightedOperations(state)
}

// simStats counts the simulated operations: module → message type → outcome
// ("ok" or "failure", the latter a no-op the operation chose) → count.
type simStats map[string]map[string]map[string]int

// runSim simulates the app from seed and returns the operations' outcomes.
func runSim(t *testing.T, a *app.HealthApp, seed int64) simStats {
	t.Helper()
	blocked, err := app.BlockedAddresses(addresscodec.NewBech32Codec(app.Bech32Prefix))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	// The SDK's simulator skips the test when evidence and unbondings have
	// emptied the validator set (healthd admits no new validators during a
	// simulation). Run it in a subtest, and make that a failure here: a seed
	// that does it must be replaced, never counted as passing.
	completed := t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
		_, _, err = simulation.SimulateFromSeedX(t, log.NewNopLogger(), &out, a.BaseApp,
			simtestutil.AppStateFn(a.AppCodec(), a.SimulationManager(), a.DefaultGenesis()),
			simtypes.RandomAccounts, simOperations(a), blocked, simConfig(t, seed), a.AppCodec(), &simulation.DummyLogWriter{})
		if err != nil {
			t.Fatalf("simulation (seed %d): %v", seed, err)
		}
	})
	if !completed {
		t.FailNow()
	}
	if a.LastBlockHeight() < int64(*simBlocks) {
		t.Fatalf("seed %d: the simulation stopped at height %d of %d (the SDK's simulator emptied the validator set): "+
			"use another seed", seed, a.LastBlockHeight(), *simBlocks)
	}
	stats := simStats{}
	// progress lines, then the statistics as JSON
	report := out.String()
	if i := strings.Index(report, "{\n"); i >= 0 {
		report = report[i:]
	}
	if err := json.Unmarshal([]byte(report), &stats); err != nil {
		t.Fatalf("simulation statistics: %v\n%s", err, out.String())
	}
	return stats
}

// TestFullAppSimulation runs random genesis and random transactions of every
// module through the whole app, committing each block.
func TestFullAppSimulation(t *testing.T) {
	a := newSimApp(t)
	stats := runSim(t, a, *simSeed)
	// every healthd message was delivered (and accepted) at least once
	for mod, msgs := range healthdMsgs {
		for _, msg := range msgs {
			if n := stats[mod][msg]["ok"]; n == 0 {
				t.Errorf("%s: no %s delivered (%v)", mod, msg, stats[mod][msg])
			}
		}
	}
	t.Logf("healthd operations delivered: providers %v, consent %v, records %v", oks(stats["providers"]), oks(stats["consent"]), oks(stats["records"]))
	t.Logf("seed %d: %d blocks of up to %d operations, app hash %X", *simSeed, a.LastBlockHeight(), *simBlockSize, a.LastCommitID().Hash)
}

// TestAppStateDeterminism runs the same seed several times on fresh apps: the
// app hash must be the same every time.
func TestAppStateDeterminism(t *testing.T) {
	for _, field := range strings.Split(*simSeeds, ",") {
		seed, err := strconv.ParseInt(strings.TrimSpace(field), 10, 64)
		if err != nil {
			t.Fatalf("-sim.seeds: %v", err)
		}
		var first []byte
		for run := 0; run < *simRuns; run++ {
			a := newSimApp(t)
			runSim(t, a, seed)
			hash := a.LastCommitID().Hash
			if run == 0 {
				first = hash
				continue
			}
			if string(hash) != string(first) {
				t.Fatalf("seed %d: run %d has app hash %X, run 0 had %X", seed, run, hash, first)
			}
		}
		t.Logf("seed %d: %d runs, app hash %X every time", seed, *simRuns, first)
	}
}

// TestAppImportExport simulates, exports the state as genesis, starts a new
// app from it, and checks that the new app exports exactly the same state.
func TestAppImportExport(t *testing.T) {
	a := newSimApp(t)
	runSim(t, a, *simSeed)
	exported, err := a.ExportAppStateAndValidators(false, nil, nil)
	if err != nil {
		t.Fatalf("export: %v", err)
	}

	// a fresh app initialises every module from the export, then exports again
	b := newSimApp(t)
	var genesis map[string]json.RawMessage
	if err := json.Unmarshal(exported.AppState, &genesis); err != nil {
		t.Fatal(err)
	}
	ctx := b.NewContextLegacy(true, cmtproto.Header{Height: a.LastBlockHeight(), ChainID: simChainID})
	if _, err := b.ModuleManager.InitGenesis(ctx, b.AppCodec(), genesis); err != nil {
		t.Fatalf("init from the export: %v", err)
	}
	reexported, err := b.ModuleManager.ExportGenesisForModules(ctx, b.AppCodec(), nil)
	if err != nil {
		t.Fatalf("re-export: %v", err)
	}
	again, err := json.Marshal(reexported)
	if err != nil {
		t.Fatal(err)
	}
	var before, after map[string]json.RawMessage
	if err := json.Unmarshal(exported.AppState, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &after); err != nil {
		t.Fatal(err)
	}
	same := 0
	for name, want := range before {
		if got := after[name]; !jsonEqual(want, got) {
			t.Errorf("module %s: state differs after export and import:\n before %.600s\n after  %.600s", name, want, got)
			continue
		}
		same++
	}
	if len(after) != len(before) {
		t.Fatalf("%d modules exported before, %d after", len(before), len(after))
	}
	t.Logf("seed %d: all %d modules' state identical after export → import → export (%d bytes)", *simSeed, same, len(exported.AppState))
}

// healthdMsgs are the messages the healthd modules' simulations send.
var healthdMsgs = map[string][]string{
	"providers": {
		"/healthd.providers.v1.MsgApplyProvider", "/healthd.providers.v1.MsgApproveProvider",
		"/healthd.providers.v1.MsgSetProviderStatus", "/healthd.providers.v1.MsgUpdateProvider",
	},
	"consent": {
		"/healthd.consent.v1.MsgRegisterPatient", "/healthd.consent.v1.MsgGrantConsent",
		"/healthd.consent.v1.MsgRevokeConsent", "/healthd.consent.v1.MsgBreakGlass",
	},
	"records": {
		"/healthd.records.v1.MsgCreateRecords", "/healthd.records.v1.MsgAccessRecord",
		"/healthd.records.v1.MsgAmendRecord", "/healthd.records.v1.MsgEraseRecord",
	},
}

func oks(m map[string]map[string]int) map[string]int {
	out := map[string]int{}
	for msg, outcomes := range m {
		out[msg[strings.LastIndex(msg, ".")+1:]] = outcomes["ok"]
	}
	return out
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
