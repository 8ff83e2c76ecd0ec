package types

import errorsmod "cosmossdk.io/errors"

// Registered errors of x/providers. Codes start at 2 (0 is success, 1 internal)
// and never change once released.
var (
	ErrUnauthorized          = errorsmod.Register(ModuleName, 2, "signer is not allowed to do this")
	ErrProviderNotFound      = errorsmod.Register(ModuleName, 3, "provider not found")
	ErrAlreadyRegistered     = errorsmod.Register(ModuleName, 4, "provider already registered")
	ErrRevoked               = errorsmod.Register(ModuleName, 5, "provider is revoked")
	ErrInvalidTransition     = errorsmod.Register(ModuleName, 6, "invalid status transition")
	ErrInvalidName           = errorsmod.Register(ModuleName, 7, "invalid name")
	ErrInvalidKind           = errorsmod.Register(ModuleName, 8, "invalid provider kind")
	ErrInvalidLicense        = errorsmod.Register(ModuleName, 9, "invalid license id")
	ErrInvalidJurisdiction   = errorsmod.Register(ModuleName, 10, "invalid jurisdiction")
	ErrInvalidEncryptionKey  = errorsmod.Register(ModuleName, 11, "invalid encryption key")
	ErrInvalidVaultEndpoint  = errorsmod.Register(ModuleName, 12, "invalid vault endpoint")
	ErrInvalidCredentialHash = errorsmod.Register(ModuleName, 13, "invalid credential hash")
	ErrInvalidExpiry         = errorsmod.Register(ModuleName, 14, "invalid credential expiry")
	ErrInvalidReason         = errorsmod.Register(ModuleName, 15, "invalid status reason")
	ErrInvalidStatus         = errorsmod.Register(ModuleName, 16, "invalid provider status")
	ErrSelfAction            = errorsmod.Register(ModuleName, 17, "a provider cannot approve or change the status of itself")
	ErrTooManyKeys           = errorsmod.Register(ModuleName, 18, "too many retired encryption keys")
	ErrNoChange              = errorsmod.Register(ModuleName, 19, "nothing to change")
	ErrInvalidParams         = errorsmod.Register(ModuleName, 20, "invalid params")
	ErrInvalidAddress        = errorsmod.Register(ModuleName, 21, "invalid address")
	ErrInvalidGenesis        = errorsmod.Register(ModuleName, 22, "invalid genesis")
	ErrValidatorNotApproved  = errorsmod.Register(ModuleName, 23, "validator operator not approved by the consortium")
	ErrCredentialMismatch    = errorsmod.Register(ModuleName, 24, "the credential hash is not the one reviewed")
)
