package app

import (
	"encoding/json"

	cmttypes "github.com/cometbft/cometbft/types"
)

// GenesisState is the app_state of the genesis file: each module's genesis JSON,
// keyed by module name.
type GenesisState map[string]json.RawMessage

// Block limits of a new healthd chain. CometBFT's defaults are 21 MiB blocks and
// no gas limit (-1), which lets one block take unbounded time to execute.
const (
	// DefaultBlockMaxBytes bounds a block's size: 8 MiB holds several thousand
	// record commitments (a few hundred bytes each) with room to spare, and
	// gossips in well under a second between consortium validators.
	DefaultBlockMaxBytes = 8 << 20
	// DefaultBlockMaxGas bounds a block's execution: about 4,000 simple
	// transactions at ~100k gas each. Governance can change it (x/consensus).
	DefaultBlockMaxGas = 400_000_000
)

// SetConsensusDefaults applies healthd's block limits to genesis consensus params.
func SetConsensusDefaults(params *cmttypes.ConsensusParams) {
	if params == nil {
		return
	}
	params.Block.MaxBytes = DefaultBlockMaxBytes
	params.Block.MaxGas = DefaultBlockMaxGas
}
