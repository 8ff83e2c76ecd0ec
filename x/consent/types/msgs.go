package types

import (
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

var (
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
