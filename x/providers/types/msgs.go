package types

import (
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

var (
	_ sdk.Msg = (*MsgApplyProvider)(nil)
	_ sdk.Msg = (*MsgApproveProvider)(nil)
	_ sdk.Msg = (*MsgSetProviderStatus)(nil)
	_ sdk.Msg = (*MsgUpdateProvider)(nil)
	_ sdk.Msg = (*MsgUpdateParams)(nil)
)

// Validate runs the stateless checks of an application.
func (m *MsgApplyProvider) Validate() error {
	if err := ValidateName(m.Name); err != nil {
		return err
	}
	if err := ValidateKind(m.Kind); err != nil {
		return err
	}
	if err := ValidateLicenseID(m.LicenseId); err != nil {
		return err
	}
	if err := ValidateJurisdiction(m.Jurisdiction); err != nil {
		return err
	}
	if err := ValidateEncryptionKey(m.EncryptionKey); err != nil {
		return err
	}
	if err := ValidateVaultEndpoint(m.VaultEndpoint); err != nil {
		return err
	}
	return ValidateCredentialHash(m.CredentialHash)
}

// Validate runs the stateless checks of an approval.
func (m *MsgApproveProvider) Validate() error {
	if m.CredentialExpiresAt.IsZero() {
		return errorsmod.Wrap(ErrInvalidExpiry, "a credential expiry is required")
	}
	return ValidateCredentialHash(m.CredentialHash)
}

// Validate runs the stateless checks of a status change.
func (m *MsgSetProviderStatus) Validate() error {
	switch m.Status {
	case PROVIDER_STATUS_SUSPENDED, PROVIDER_STATUS_REVOKED, PROVIDER_STATUS_ACTIVE:
	default:
		return errorsmod.Wrapf(ErrInvalidStatus, "%s: the new status must be suspended, revoked or active", m.Status)
	}
	return ValidateReason(m.Reason)
}

// Validate runs the stateless checks of an update: at least one change, and
// every given field valid.
func (m *MsgUpdateProvider) Validate() error {
	if m.Name == "" && m.VaultEndpoint == "" && len(m.EncryptionKey) == 0 && len(m.CredentialHash) == 0 && !m.RequestRenewal {
		return errorsmod.Wrap(ErrNoChange, "give at least one of name, vault endpoint, encryption key, credential hash, renewal request")
	}
	if m.Name != "" {
		if err := ValidateName(m.Name); err != nil {
			return err
		}
	}
	if m.VaultEndpoint != "" {
		if err := ValidateVaultEndpoint(m.VaultEndpoint); err != nil {
			return err
		}
	}
	if len(m.EncryptionKey) > 0 {
		if err := ValidateEncryptionKey(m.EncryptionKey); err != nil {
			return err
		}
	}
	if len(m.CredentialHash) > 0 {
		if err := ValidateCredentialHash(m.CredentialHash); err != nil {
			return err
		}
	}
	return nil
}
