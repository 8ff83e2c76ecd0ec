package app

import (
	"cosmossdk.io/core/address"
	evidencetypes "cosmossdk.io/x/evidence/types"
	"cosmossdk.io/x/feegrant"
	upgradetypes "cosmossdk.io/x/upgrade/types"

	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	consensustypes "github.com/cosmos/cosmos-sdk/x/consensus/types"
	distrtypes "github.com/cosmos/cosmos-sdk/x/distribution/types"
	genutiltypes "github.com/cosmos/cosmos-sdk/x/genutil/types"
	govtypes "github.com/cosmos/cosmos-sdk/x/gov/types"
	slashingtypes "github.com/cosmos/cosmos-sdk/x/slashing/types"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"

	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// moduleAccountPermissions lists every module account and what it may do with coins.
// There is no x/mint: healthd has no inflation, fees are the only validator income.
var moduleAccountPermissions = map[string][]string{
	authtypes.FeeCollectorName:     nil,
	distrtypes.ModuleName:          nil,
	stakingtypes.BondedPoolName:    {authtypes.Burner, authtypes.Staking},
	stakingtypes.NotBondedPoolName: {authtypes.Burner, authtypes.Staking},
	govtypes.ModuleName:            {authtypes.Burner},
}

// preBlockers run before BeginBlock.
//   - upgrade first: a scheduled upgrade must halt the old binary before any state
//     of the upgrade height is touched, and it may change consensus params.
//   - auth next: it runs the unordered-tx nonce pruning before any tx is checked.
var preBlockers = []string{
	upgradetypes.ModuleName,
	authtypes.ModuleName,
}

// beginBlockers run at the start of every block.
//   - distribution before slashing: fees of the previous block are allocated to the
//     validators that signed it before any of them is slashed or jailed.
//   - slashing before evidence: downtime is processed before double-sign evidence.
//   - staking last: it records historical info after validator changes of this block.
var beginBlockers = []string{
	distrtypes.ModuleName,
	slashingtypes.ModuleName,
	evidencetypes.ModuleName,
	stakingtypes.ModuleName,
}

// endBlockers run at the end of every block.
//   - gov before staking: a passed proposal may change staking params that the
//     validator-set update at the end of this block must already see.
//   - staking returns the validator-set updates to CometBFT.
//   - feegrant prunes expired allowances (bounded per block by the module).
//   - consent marks ended consents expired (bounded by max_prunes_per_block);
//     access is denied at the end time anyway, so its place is not critical.
var endBlockers = []string{
	govtypes.ModuleName,
	stakingtypes.ModuleName,
	feegrant.ModuleName,
	consenttypes.ModuleName,
}

// genesisOrder is the order of InitGenesis and ExportGenesis.
//   - auth first: every module that owns a module account needs it to exist.
//   - bank before staking: staking checks that its pools hold the bonded coins.
//   - distribution before staking: staking hooks call into distribution.
//   - slashing after staking: it reads the validator set.
//   - genutil after staking and bank: the genesis transactions (gentx) create
//     validators and need funded accounts; and after providers, whose params
//     list the approved validator operators the ante handler checks gentxs against.
//   - upgrade and consensus: no other module depends on them at genesis.
//   - providers: depends on no module; before genutil (above); the healthd
//     modules that check providers (consent, records) come after it.
//   - consent after providers (its grantees are providers or patients).
//   - records last: its records belong to consent's patients.
var genesisOrder = []string{
	authtypes.ModuleName,
	banktypes.ModuleName,
	distrtypes.ModuleName,
	stakingtypes.ModuleName,
	slashingtypes.ModuleName,
	govtypes.ModuleName,
	providerstypes.ModuleName,
	genutiltypes.ModuleName,
	evidencetypes.ModuleName,
	feegrant.ModuleName,
	upgradetypes.ModuleName,
	consensustypes.ModuleName,
	consenttypes.ModuleName,
	recordstypes.ModuleName,
}

// BlockedAddresses returns the bech32 addresses of every module account: none of
// them may receive coins through a bank send (nobody can, for instance, send coins
// into the bonded pool by mistake). Module-to-module transfers are not affected.
func BlockedAddresses(ac address.Codec) (map[string]bool, error) {
	blocked := make(map[string]bool, len(moduleAccountPermissions))
	for name := range moduleAccountPermissions {
		addr, err := ac.BytesToString(authtypes.NewModuleAddress(name))
		if err != nil {
			return nil, err
		}
		blocked[addr] = true
	}
	return blocked, nil
}
