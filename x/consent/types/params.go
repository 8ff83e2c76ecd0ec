package types

import (
	"time"

	errorsmod "cosmossdk.io/errors"
)

// Parameter defaults and limits.
const (
	DefaultMaxEmergencyDuration = 4 * time.Hour
	DefaultMaxPrunesPerBlock    = 200
	DefaultMaxConsentDuration   = 10 * 365 * 24 * time.Hour

	maxEmergencyDurationLimit = 72 * time.Hour
	maxPrunesLimit            = 10_000
	maxConsentDurationLimit   = 100 * 365 * 24 * time.Hour
)

// DefaultParams returns the default parameters.
func DefaultParams() Params {
	return Params{
		MaxEmergencyDuration: DefaultMaxEmergencyDuration,
		MaxPrunesPerBlock:    DefaultMaxPrunesPerBlock,
		MaxConsentDuration:   DefaultMaxConsentDuration,
	}
}

// Validate checks the parameters.
func (p Params) Validate() error {
	if p.MaxEmergencyDuration <= 0 || p.MaxEmergencyDuration > maxEmergencyDurationLimit {
		return errorsmod.Wrapf(ErrInvalidParams, "max_emergency_duration %s: want (0, %s]", p.MaxEmergencyDuration, maxEmergencyDurationLimit)
	}
	if p.MaxPrunesPerBlock == 0 || p.MaxPrunesPerBlock > maxPrunesLimit {
		return errorsmod.Wrapf(ErrInvalidParams, "max_prunes_per_block %d: want 1-%d", p.MaxPrunesPerBlock, maxPrunesLimit)
	}
	if p.MaxConsentDuration <= 0 || p.MaxConsentDuration > maxConsentDurationLimit {
		return errorsmod.Wrapf(ErrInvalidParams, "max_consent_duration %s: want (0, %s]", p.MaxConsentDuration, maxConsentDurationLimit)
	}
	return nil
}
