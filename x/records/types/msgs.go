package types

import (
	"bytes"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// MaxEraseVersions bounds how many versions of a record one MsgEraseRecord
// erases, so that a long amendment chain cannot push a transaction past the
// block gas limit; the response says when more remain.
const MaxEraseVersions = 50

var (
	_ sdk.Msg = (*MsgCreateRecords)(nil)
	_ sdk.Msg = (*MsgAmendRecord)(nil)
	_ sdk.Msg = (*MsgEraseRecord)(nil)
	_ sdk.Msg = (*MsgAccessRecord)(nil)
	_ sdk.Msg = (*MsgUpdateParams)(nil)
)

// Validate runs the stateless checks of a batch against the params.
func (m *MsgCreateRecords) Validate(p Params) error {
	if err := ValidatePurpose(m.Purpose); err != nil {
		return err
	}
	if len(m.Entries) == 0 {
		return ErrEmptyBatch
	}
	if len(m.Entries) > int(p.MaxBatchSize) {
		return errorsmod.Wrapf(ErrBatchTooLarge, "%d entries, at most %d", len(m.Entries), p.MaxBatchSize)
	}
	for i, e := range m.Entries {
		if err := e.Validate(p); err != nil {
			return errorsmod.Wrapf(err, "entry %d", i)
		}
		for _, prev := range m.Entries[:i] {
			if bytes.Equal(prev.ContentHash, e.ContentHash) {
				return errorsmod.Wrapf(ErrDuplicateHash, "entry %d", i)
			}
		}
	}
	return nil
}

// Validate runs the stateless checks of an amendment.
func (m *MsgAmendRecord) Validate(p Params) error {
	if err := ValidatePurpose(m.Purpose); err != nil {
		return err
	}
	return m.Entry.Validate(p)
}

// Validate runs the stateless checks of a read request.
func (m *MsgAccessRecord) Validate() error { return ValidatePurpose(m.Purpose) }
