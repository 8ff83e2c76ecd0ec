package types

import errorsmod "cosmossdk.io/errors"

// Registered errors of x/records. Codes start at 2 (0 is success, 1 internal)
// and never change once released.
var (
	ErrUnauthorized     = errorsmod.Register(ModuleName, 2, "signer is not allowed to do this")
	ErrRecordNotFound   = errorsmod.Register(ModuleName, 3, "record not found")
	ErrAccessDenied     = errorsmod.Register(ModuleName, 4, "access denied")
	ErrRecordErased     = errorsmod.Register(ModuleName, 5, "record is erased")
	ErrNotActive        = errorsmod.Register(ModuleName, 6, "record is not the active version")
	ErrInvalidHash      = errorsmod.Register(ModuleName, 7, "invalid content hash")
	ErrInvalidSize      = errorsmod.Register(ModuleName, 8, "invalid size")
	ErrInvalidURI       = errorsmod.Register(ModuleName, 9, "invalid storage uri")
	ErrInvalidDataClass = errorsmod.Register(ModuleName, 10, "invalid data class")
	ErrInvalidFHIRType  = errorsmod.Register(ModuleName, 11, "invalid FHIR resource type")
	ErrInvalidEnvelope  = errorsmod.Register(ModuleName, 12, "invalid key envelope")
	ErrInvalidPurpose   = errorsmod.Register(ModuleName, 13, "invalid purpose")
	ErrEmptyBatch       = errorsmod.Register(ModuleName, 14, "no records in the batch")
	ErrBatchTooLarge    = errorsmod.Register(ModuleName, 15, "batch too large")
	ErrPatientNotFound  = errorsmod.Register(ModuleName, 16, "patient not registered")
	ErrClassChange      = errorsmod.Register(ModuleName, 17, "an amendment keeps the data class")
	ErrInvalidParams    = errorsmod.Register(ModuleName, 18, "invalid params")
	ErrInvalidAddress   = errorsmod.Register(ModuleName, 19, "invalid address")
	ErrInvalidGenesis   = errorsmod.Register(ModuleName, 20, "invalid genesis")
	ErrReceiptNotFound  = errorsmod.Register(ModuleName, 21, "receipt not found")
	ErrDuplicateHash    = errorsmod.Register(ModuleName, 22, "content hash listed twice in the batch")
	ErrStaleKeyEpoch    = errorsmod.Register(ModuleName, 23, "the record is not under the class key's current epoch")
	ErrHashCommitted    = errorsmod.Register(ModuleName, 24, "content hash is already committed")
)
