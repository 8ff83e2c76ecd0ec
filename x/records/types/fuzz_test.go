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
		{&MsgCreateRecords{}, func(m gogoproto.Message) error { return m.(*MsgCreateRecords).Validate(DefaultParams()) }},
		{&MsgAmendRecord{}, func(m gogoproto.Message) error { return m.(*MsgAmendRecord).Validate(DefaultParams()) }},
		{&MsgAccessRecord{}, func(m gogoproto.Message) error { return m.(*MsgAccessRecord).Validate() }},
		{&GenesisState{}, func(m gogoproto.Message) error { return m.(*GenesisState).Validate(ac) }},
	}
	for i, seed := range []gogoproto.Message{&MsgCreateRecords{}, &MsgAmendRecord{}, &MsgAccessRecord{}} {
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
