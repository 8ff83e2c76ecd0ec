// Package addrs decodes account addresses the one way healthd stores them.
package addrs

import (
	"fmt"

	"cosmossdk.io/core/address"
	errorsmod "cosmossdk.io/errors"
)

// Decode decodes a bech32 account address and insists on its canonical
// (lower-case) spelling. bech32 also accepts an all-upper-case spelling of the
// same bytes; refusing it keeps every stored address in one form, so that
// addresses compare equal as strings (genesis cross-checks, delegate lists,
// registrar lists, events).
func Decode(ac address.Codec, s string) ([]byte, error) {
	bz, err := ac.StringToBytes(s)
	if err != nil {
		return nil, err
	}
	canonical, err := ac.BytesToString(bz)
	if err != nil {
		return nil, err
	}
	if canonical != s {
		return nil, fmt.Errorf("write the address in its canonical lower-case form %s", canonical)
	}
	return bz, nil
}

// DecodeField is Decode for a message field: a failure is wrapped in the
// module's registered invalid-address error and names the field, so every
// module reports a bad address the same way.
func DecodeField(ac address.Codec, s, field string, invalid *errorsmod.Error) ([]byte, error) {
	bz, err := Decode(ac, s)
	if err != nil {
		return nil, errorsmod.Wrapf(invalid, "%s %q: %v", field, s, err)
	}
	return bz, nil
}
