package types

import (
	"testing"

	"github.com/cosmos/cosmos-sdk/codec/address"
	gogoproto "github.com/cosmos/gogoproto/proto"

	"github.com/healthd-chain/healthd/testutil/fuzzmsg"
)

// FuzzMessagesAndGenesis decodes fuzzed protobuf bytes as each of the
// module's messages and as its genesis state, and runs their stateless
// validation (testutil/fuzzmsg). The handlers are fuzzed with the keeper
// fixture in ../keeper.
func FuzzMessagesAndGenesis(f *testing.F) {
	ac := address.NewBech32Codec("health")
	genesis := fuzzmsg.Case{Msg: &GenesisState{}, Check: func(m gogoproto.Message) error { return m.(*GenesisState).Validate(ac) }}
	cases := []fuzzmsg.Case{
		fuzzmsg.Of(&MsgRegisterPatient{}),
		fuzzmsg.Of(&MsgUpdatePatient{}),
		fuzzmsg.Of(&MsgAddDelegate{}),
		fuzzmsg.Of(&MsgGrantConsent{}),
		fuzzmsg.Of(&MsgRevokeConsent{}),
		fuzzmsg.Of(&MsgRotateClassKeys{}),
		fuzzmsg.Of(&MsgBreakGlass{}),
		fuzzmsg.Of(&MsgReviewEmergencyAccess{}),
		fuzzmsg.Of(&MsgEscrowKeys{}),
		fuzzmsg.Of(&MsgReleaseKeyShares{}),
		genesis,
	}
	fuzzmsg.Run(f, cases, map[int]gogoproto.Message{len(cases) - 1: DefaultGenesis()})
}
