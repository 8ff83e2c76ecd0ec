package types

import errorsmod "cosmossdk.io/errors"

// Registered errors of x/consent. Codes start at 2 (0 is success, 1 internal)
// and never change once released.
var (
	ErrUnauthorized         = errorsmod.Register(ModuleName, 2, "signer is not allowed to do this")
	ErrPatientNotFound      = errorsmod.Register(ModuleName, 3, "patient not registered")
	ErrPatientExists        = errorsmod.Register(ModuleName, 4, "patient already registered")
	ErrConsentNotFound      = errorsmod.Register(ModuleName, 5, "consent not found")
	ErrInvalidGrantee       = errorsmod.Register(ModuleName, 6, "grantee must be an active provider or a registered patient")
	ErrInvalidDataClass     = errorsmod.Register(ModuleName, 7, "invalid data class")
	ErrInvalidPurpose       = errorsmod.Register(ModuleName, 8, "invalid purpose")
	ErrInvalidPermission    = errorsmod.Register(ModuleName, 9, "invalid permission")
	ErrInvalidPeriod        = errorsmod.Register(ModuleName, 10, "invalid period")
	ErrInvalidKeyGrant      = errorsmod.Register(ModuleName, 11, "invalid key grant")
	ErrInvalidEncryptionKey = errorsmod.Register(ModuleName, 12, "invalid encryption key")
	ErrInvalidDelegate      = errorsmod.Register(ModuleName, 13, "invalid delegate")
	ErrTooManyDelegates     = errorsmod.Register(ModuleName, 14, "too many delegates")
	ErrDelegateNotFound     = errorsmod.Register(ModuleName, 15, "delegate not found")
	ErrNotActive            = errorsmod.Register(ModuleName, 16, "consent is not active")
	ErrProviderNotActive    = errorsmod.Register(ModuleName, 17, "provider is not active")
	ErrInvalidEmergency     = errorsmod.Register(ModuleName, 18, "invalid emergency access")
	ErrNotEmergency         = errorsmod.Register(ModuleName, 19, "consent is not an emergency access")
	ErrAlreadyReviewed      = errorsmod.Register(ModuleName, 20, "emergency access already reviewed")
	ErrInvalidVerdict       = errorsmod.Register(ModuleName, 21, "invalid review verdict")
	ErrInvalidParams        = errorsmod.Register(ModuleName, 22, "invalid params")
	ErrInvalidAddress       = errorsmod.Register(ModuleName, 23, "invalid address")
	ErrInvalidGenesis       = errorsmod.Register(ModuleName, 24, "invalid genesis")
	ErrInvalidAccessRequest = errorsmod.Register(ModuleName, 25, "invalid access request")
)
