// Package fuzzmsg fuzzes the stateless validation of a module's protobuf
// messages and genesis state: the shared body of each module's
// FuzzMessagesAndGenesis (x/*/types/fuzz_test.go).
package fuzzmsg

import (
	"testing"

	gogoproto "github.com/cosmos/gogoproto/proto"
)

// Case is one message type and its stateless validation.
type Case struct {
	Msg   gogoproto.Message
	Check func(gogoproto.Message) error
}

// Of makes a Case for a message type with a Validate method.
func Of[M interface {
	gogoproto.Message
	Validate() error
}](m M,
) Case {
	return Case{Msg: m, Check: func(x gogoproto.Message) error { return x.(M).Validate() }}
}

// Run seeds f with each case's message (empty) and with seeds (kind, bytes),
// then decodes every fuzzed input as the case it selects and validates it: a
// validation must refuse bad input with an error, never panic.
func Run(f *testing.F, cases []Case, seeds map[int]gogoproto.Message) {
	f.Helper()
	add := func(kind int, m gogoproto.Message) {
		b, err := gogoproto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(kind), b)
	}
	for i, c := range cases {
		add(i, c.Msg)
	}
	for kind, m := range seeds {
		add(kind, m)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		c := cases[int(kind)%len(cases)]
		m := gogoproto.Clone(c.Msg)
		if err := gogoproto.Unmarshal(data, m); err != nil {
			return
		}
		_ = c.Check(m)
	})
}
