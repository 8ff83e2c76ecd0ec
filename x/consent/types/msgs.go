package types

import (
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/crypto"
)

var (
	_ sdk.Msg = (*MsgEscrowKeys)(nil)
	_ sdk.Msg = (*MsgReleaseKeyShares)(nil)
	_ sdk.Msg = (*MsgRotateClassKeys)(nil)
	_ sdk.Msg = (*MsgRegisterPatient)(nil)
	_ sdk.Msg = (*MsgUpdatePatient)(nil)
	_ sdk.Msg = (*MsgAddDelegate)(nil)
	_ sdk.Msg = (*MsgRemoveDelegate)(nil)
	_ sdk.Msg = (*MsgGrantConsent)(nil)
	_ sdk.Msg = (*MsgRevokeConsent)(nil)
	_ sdk.Msg = (*MsgBreakGlass)(nil)
	_ sdk.Msg = (*MsgReviewEmergencyAccess)(nil)
	_ sdk.Msg = (*MsgUpdateParams)(nil)
)

// Validate runs the stateless checks.
func (m *MsgRegisterPatient) Validate() error { return ValidateEncryptionKey(m.EncryptionKey) }

// Validate runs the stateless checks.
func (m *MsgUpdatePatient) Validate() error { return ValidateEncryptionKey(m.EncryptionKey) }

// Validate runs the stateless checks.
func (m *MsgAddDelegate) Validate() error {
	if m.Delegate == m.Patient {
		return errorsmod.Wrap(ErrInvalidDelegate, "a patient cannot be its own delegate")
	}
	if m.ExpiresAt.IsZero() {
		return errorsmod.Wrap(ErrInvalidDelegate, "an expiry is required")
	}
	return nil
}

// Validate runs the stateless checks.
func (m *MsgGrantConsent) Validate() error {
	if err := ValidateTerms(m.Permissions, m.DataClasses, m.Purposes); err != nil {
		return err
	}
	if m.Duration <= 0 {
		return errorsmod.Wrap(ErrInvalidPeriod, "a positive duration is required")
	}
	if m.DataPeriod != nil {
		if err := m.DataPeriod.Validate(); err != nil {
			return errorsmod.Wrap(err, "data period")
		}
	}
	return ValidateKeyGrants(m.KeyGrants)
}

// Validate runs the stateless checks.
func (m *MsgRevokeConsent) Validate() error {
	if m.ConsentId == 0 {
		return errorsmod.Wrap(ErrConsentNotFound, "consent id 0")
	}
	seen := map[uint64]bool{m.ConsentId: true}
	for _, r := range m.RotatedKeyGrants {
		if seen[r.ConsentId] {
			return errorsmod.Wrapf(ErrInvalidKeyGrant, "consent %d appears twice (or is the revoked one)", r.ConsentId)
		}
		seen[r.ConsentId] = true
		if err := ValidateKeyGrants(r.KeyGrants); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the classes (known, distinct, at least one) and the key
// grant updates (each consent once).
func (m *MsgRotateClassKeys) Validate() error {
	if len(m.DataClasses) == 0 {
		return errorsmod.Wrap(ErrInvalidDataClass, "name the data classes to rotate")
	}
	seenClass := map[string]bool{}
	for _, c := range m.DataClasses {
		if err := ValidateDataClass(c); err != nil {
			return err
		}
		if seenClass[c] {
			return errorsmod.Wrapf(ErrInvalidDataClass, "%s listed twice", c)
		}
		seenClass[c] = true
	}
	seen := map[uint64]bool{}
	for _, r := range m.RotatedKeyGrants {
		if seen[r.ConsentId] {
			return errorsmod.Wrapf(ErrInvalidKeyGrant, "consent %d appears twice", r.ConsentId)
		}
		seen[r.ConsentId] = true
		if err := ValidateKeyGrants(r.KeyGrants); err != nil {
			return err
		}
	}
	return nil
}

// Validate runs the stateless checks.
func (m *MsgBreakGlass) Validate() error {
	if _, ok := EmergencyReason_name[int32(m.Reason)]; !ok || m.Reason == EMERGENCY_REASON_UNSPECIFIED {
		return errorsmod.Wrapf(ErrInvalidEmergency, "reason %d: a reason code is required", m.Reason)
	}
	if m.Patient == m.Provider {
		return errorsmod.Wrap(ErrInvalidEmergency, "a provider cannot break the glass on itself")
	}
	if m.Duration <= 0 {
		return errorsmod.Wrap(ErrInvalidPeriod, "a positive duration is required")
	}
	return ValidateEmergencyNote(m.Note)
}

// Validate runs the stateless checks.
func (m *MsgReviewEmergencyAccess) Validate() error {
	if m.Verdict != REVIEW_STATE_JUSTIFIED && m.Verdict != REVIEW_STATE_ABUSIVE {
		return errorsmod.Wrapf(ErrInvalidVerdict, "%s: want justified or abusive", m.Verdict)
	}
	return nil
}

// Escrow limits.
const (
	// MaxEscrowSealedSize bounds one custodian's sealed shares (of an escrow
	// or a release): an ML-KEM hybrid encapsulation (1,120 bytes), the AEAD
	// tag, and at most 12 class shares of a 32-byte key (~60 bytes each).
	MaxEscrowSealedSize = 2048
	// CommitmentSize is a share commitment's length (SHA-256).
	CommitmentSize = 32
)

// Validate checks an escrow on its own: known, distinct classes at epochs
// 1..crypto.MaxKeyEpoch, sealed shares of bounded size, commitments of the
// right length. The msg server checks the rest against the custodian set and
// the patient's epochs.
func (m *MsgEscrowKeys) Validate() error {
	if len(m.Classes) == 0 || len(m.Classes) > len(DataClasses) {
		return errorsmod.Wrapf(ErrInvalidEscrow, "%d classes: want 1 to %d", len(m.Classes), len(DataClasses))
	}
	seen := map[string]bool{}
	for _, c := range m.Classes {
		if err := ValidateDataClass(c.DataClass); err != nil {
			return errorsmod.Wrap(ErrInvalidEscrow, err.Error())
		}
		if seen[c.DataClass] {
			return errorsmod.Wrapf(ErrInvalidEscrow, "class %s listed twice", c.DataClass)
		}
		seen[c.DataClass] = true
		if c.Epoch < 1 || c.Epoch > crypto.MaxKeyEpoch {
			return errorsmod.Wrapf(ErrInvalidEscrow, "class %s: epoch %d", c.DataClass, c.Epoch)
		}
	}
	for _, s := range m.Shares {
		if len(s.Sealed) == 0 || len(s.Sealed) > MaxEscrowSealedSize {
			return errorsmod.Wrapf(ErrInvalidEscrow, "shares of %s: %d bytes, want 1 to %d", s.Custodian, len(s.Sealed), MaxEscrowSealedSize)
		}
	}
	for _, c := range m.Commitments {
		if len(c.Hash) != CommitmentSize {
			return errorsmod.Wrapf(ErrInvalidEscrow, "commitment of %s/%s: %d bytes, want %d", c.DataClass, c.Custodian, len(c.Hash), CommitmentSize)
		}
	}
	return nil
}

// Validate checks a release on its own.
func (m *MsgReleaseKeyShares) Validate() error {
	if m.AccessId == 0 {
		return errorsmod.Wrap(ErrInvalidRelease, "access_id must be set")
	}
	if len(m.Sealed) == 0 || len(m.Sealed) > MaxEscrowSealedSize {
		return errorsmod.Wrapf(ErrInvalidRelease, "sealed shares of %d bytes, want 1 to %d", len(m.Sealed), MaxEscrowSealedSize)
	}
	return nil
}
