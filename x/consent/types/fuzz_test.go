package types

import (
	"testing"

	"github.com/cosmos/cosmos-sdk/codec/address"
	gogoproto "github.com/cosmos/gogoproto/proto"
)

// FuzzMessagesAndGenesis decodes fuzzed protobuf bytes as each of the
// module's messages and as its genesis state, and runs their stateless
// validation: it must refuse bad input with an error, never panic. (The
// handlers are fuzzed with the keeper fixture in ../keeper.)
func FuzzMessagesAndGenesis(f *testing.F) {
	ac := address.NewBech32Codec("health")
	validate := []struct {
		msg   gogoproto.Message
		check func(gogoproto.Message) error
	}{
		{&MsgRegisterPatient{}, func(m gogoproto.Message) error { return m.(*MsgRegisterPatient).Validate() }},
		{&MsgUpdatePatient{}, func(m gogoproto.Message) error { return m.(*MsgUpdatePatient).Validate() }},
		{&MsgAddDelegate{}, func(m gogoproto.Message) error { return m.(*MsgAddDelegate).Validate() }},
		{&MsgGrantConsent{}, func(m gogoproto.Message) error { return m.(*MsgGrantConsent).Validate() }},
		{&MsgRevokeConsent{}, func(m gogoproto.Message) error { return m.(*MsgRevokeConsent).Validate() }},
		{&MsgRotateClassKeys{}, func(m gogoproto.Message) error { return m.(*MsgRotateClassKeys).Validate() }},
		{&MsgBreakGlass{}, func(m gogoproto.Message) error { return m.(*MsgBreakGlass).Validate() }},
		{&MsgReviewEmergencyAccess{}, func(m gogoproto.Message) error { return m.(*MsgReviewEmergencyAccess).Validate() }},
		{&MsgEscrowKeys{}, func(m gogoproto.Message) error { return m.(*MsgEscrowKeys).Validate() }},
		{&MsgReleaseKeyShares{}, func(m gogoproto.Message) error { return m.(*MsgReleaseKeyShares).Validate() }},
		{&GenesisState{}, func(m gogoproto.Message) error { return m.(*GenesisState).Validate(ac) }},
	}
	for i, seed := range []gogoproto.Message{&MsgRegisterPatient{}, &MsgUpdatePatient{}, &MsgAddDelegate{}, &MsgGrantConsent{}, &MsgRevokeConsent{}, &MsgRotateClassKeys{}, &MsgBreakGlass{}, &MsgReviewEmergencyAccess{}, &MsgEscrowKeys{}, &MsgReleaseKeyShares{}} {
		b, err := gogoproto.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Add(uint8(len(validate)-1), mustMarshal(f, DefaultGenesis()))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		v := validate[int(kind)%len(validate)]
		m := gogoproto.Clone(v.msg)
		if err := gogoproto.Unmarshal(data, m); err != nil {
			return
		}
		_ = v.check(m)
	})
}

func mustMarshal(f *testing.F, m gogoproto.Message) []byte {
	f.Helper()
	b, err := gogoproto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
