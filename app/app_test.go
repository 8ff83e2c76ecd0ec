package app_test

import (
	"encoding/json"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"
	dbm "github.com/cosmos/cosmos-db"

	"cosmossdk.io/log"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	"github.com/cosmos/cosmos-sdk/testutil/mock"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	govv1 "github.com/cosmos/cosmos-sdk/x/gov/types/v1"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"

	"github.com/healthd-chain/healthd/app"
)

const testChainID = "healthd-test-1"

func newApp(t testing.TB) *app.HealthApp {
	t.Helper()
	a, err := app.NewHealthApp(log.NewNopLogger(), dbm.NewMemDB(), nil, true,
		simtestutil.NewAppOptionsWithFlagHome(t.TempDir()), baseapp.SetChainID(testChainID))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDefaultGenesisIsValidAndUsesUhealth(t *testing.T) {
	a := newApp(t)
	gen := a.DefaultGenesis()
	if err := a.BasicModuleManager.ValidateGenesis(a.AppCodec(), a.TxConfig(), gen); err != nil {
		t.Fatalf("default genesis does not validate: %v", err)
	}

	var staking stakingtypes.GenesisState
	a.AppCodec().MustUnmarshalJSON(gen[stakingtypes.ModuleName], &staking)
	if staking.Params.BondDenom != app.BondDenom {
		t.Fatalf("staking bond denom = %q, want %q", staking.Params.BondDenom, app.BondDenom)
	}
	var gov govv1.GenesisState
	a.AppCodec().MustUnmarshalJSON(gen["gov"], &gov)
	if denom := gov.Params.MinDeposit[0].Denom; denom != app.BondDenom {
		t.Fatalf("gov min deposit denom = %q, want %q", denom, app.BondDenom)
	}
	if _, hasMint := gen["mint"]; hasMint {
		t.Fatal("genesis has a mint module: healthd has no inflation")
	}
}

func TestBlockedAddressesCoverEveryModuleAccount(t *testing.T) {
	a := newApp(t)
	blocked, err := app.BlockedAddresses(a.AccountKeeper.AddressCodec())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{authtypes.FeeCollectorName, "distribution", stakingtypes.BondedPoolName, stakingtypes.NotBondedPoolName, "gov"} {
		addr, err := a.AccountKeeper.AddressCodec().BytesToString(authtypes.NewModuleAddress(name))
		if err != nil {
			t.Fatal(err)
		}
		if !blocked[addr] {
			t.Errorf("module account %s (%s) is not blocked", name, addr)
		}
	}
}

// startChain initialises a with a one-validator genesis (or with appState if
// given) and commits one block; it returns the next height.
func startChain(t *testing.T, a *app.HealthApp, appState []byte, initialHeight int64) int64 {
	t.Helper()
	if appState == nil {
		pv := mock.NewPV()
		pub, err := pv.GetPubKey()
		if err != nil {
			t.Fatal(err)
		}
		valSet := cmttypes.NewValidatorSet([]*cmttypes.Validator{cmttypes.NewValidator(pub, 1)})
		accPub := secp256k1.GenPrivKey().PubKey()
		acc := authtypes.NewBaseAccount(sdk.AccAddress(accPub.Address()), accPub, 0, 0)
		addr, err := a.AccountKeeper.AddressCodec().BytesToString(acc.GetAddress())
		if err != nil {
			t.Fatal(err)
		}
		gen, err := simtestutil.GenesisStateWithValSet(a.AppCodec(), a.DefaultGenesis(), valSet,
			[]authtypes.GenesisAccount{acc},
			banktypes.Balance{Address: addr, Coins: sdk.NewCoins(sdk.NewInt64Coin(app.BondDenom, 1_000_000_000))})
		if err != nil {
			t.Fatal(err)
		}
		if appState, err = json.Marshal(gen); err != nil {
			t.Fatal(err)
		}
	}
	blockTime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := a.InitChain(&abci.RequestInitChain{
		ChainId:         testChainID,
		Time:            blockTime,
		ConsensusParams: simtestutil.DefaultConsensusParams,
		AppStateBytes:   appState,
		InitialHeight:   initialHeight,
	}); err != nil {
		t.Fatalf("InitChain: %v", err)
	}
	if _, err := a.FinalizeBlock(&abci.RequestFinalizeBlock{Height: initialHeight, Time: blockTime.Add(time.Second)}); err != nil {
		t.Fatalf("FinalizeBlock: %v", err)
	}
	if _, err := a.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return initialHeight + 1
}

func TestExportImportIsIdentity(t *testing.T) {
	// given a chain that has committed its first block
	a := newApp(t)
	startChain(t, a, nil, 1)

	// when its state is exported and a new chain starts from that export
	exported, err := a.ExportAppStateAndValidators(false, nil, nil)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if exported.Height != 2 || len(exported.Validators) != 1 {
		t.Fatalf("export height %d with %d validators, want height 2 and 1 validator", exported.Height, len(exported.Validators))
	}
	b := newApp(t)
	startChain(t, b, exported.AppState, exported.Height)

	// then the new chain exports the same state, module by module
	again, err := b.ExportAppStateAndValidators(false, nil, nil)
	if err != nil {
		t.Fatalf("re-export: %v", err)
	}
	var first, second map[string]json.RawMessage
	if err := json.Unmarshal(exported.AppState, &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again.AppState, &second); err != nil {
		t.Fatal(err)
	}
	if len(first) != len(second) {
		t.Fatalf("exported %d modules, re-exported %d", len(first), len(second))
	}
	for module, state := range first {
		if string(state) != string(second[module]) {
			t.Errorf("module %s differs after export and import:\nfirst:  %s\nsecond: %s", module, state, second[module])
		}
	}
}

func TestZeroHeightExportStartsANewChain(t *testing.T) {
	// given a running chain
	a := newApp(t)
	startChain(t, a, nil, 1)

	// when it is exported for a restart at height zero
	exported, err := a.ExportAppStateAndValidators(true, nil, nil)
	if err != nil {
		t.Fatalf("zero-height export: %v", err)
	}

	// then the export is at height 0 and a new chain starts from it with the validator bonded
	if exported.Height != 0 {
		t.Fatalf("height = %d, want 0", exported.Height)
	}
	b := newApp(t)
	startChain(t, b, exported.AppState, 1)
	vals, err := b.StakingKeeper.GetAllValidators(b.NewContext(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 1 || !vals[0].IsBonded() || vals[0].Jailed {
		t.Fatalf("validators after restart = %+v, want one bonded, unjailed validator", vals)
	}
}

func TestZeroHeightExportJailsValidatorsNotAllowed(t *testing.T) {
	// given a running chain with one validator
	a := newApp(t)
	startChain(t, a, nil, 1)
	vals, err := a.StakingKeeper.GetAllValidators(a.NewContext(true))
	if err != nil || len(vals) != 1 {
		t.Fatalf("validators = %v, %v", vals, err)
	}
	other := sdk.ValAddress(secp256k1.GenPrivKey().PubKey().Address())
	otherAddr, err := a.StakingKeeper.ValidatorAddressCodec().BytesToString(other)
	if err != nil {
		t.Fatal(err)
	}

	// when it is exported for zero height with an allow list that names another validator
	exported, err := a.ExportAppStateAndValidators(true, []string{otherAddr}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// then the validator is jailed in the exported staking state
	var gen map[string]json.RawMessage
	if err := json.Unmarshal(exported.AppState, &gen); err != nil {
		t.Fatal(err)
	}
	var staking stakingtypes.GenesisState
	a.AppCodec().MustUnmarshalJSON(gen[stakingtypes.ModuleName], &staking)
	if len(staking.Validators) != 1 || !staking.Validators[0].Jailed {
		t.Fatalf("exported validators = %+v, want the one validator jailed", staking.Validators)
	}

	// and an allow list with a malformed address is refused
	if _, err := a.ExportAppStateAndValidators(true, []string{"nonsense"}, nil); err == nil {
		t.Fatal("a malformed jail-allowed address was accepted")
	}
}
