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

	// MaxCustodians bounds the custodian set.
	MaxCustodians = 16

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
	return p.validateCustodians()
}

// validateCustodians checks the custodian set: at most MaxCustodians distinct
// addresses with valid encryption keys, and a threshold of 2 to their number
// (0 without custodians: no escrow possible).
func (p Params) validateCustodians() error {
	n := len(p.Custodians)
	if n > MaxCustodians {
		return errorsmod.Wrapf(ErrInvalidParams, "%d custodians: at most %d", n, MaxCustodians)
	}
	if n == 0 {
		if p.CustodianThreshold != 0 {
			return errorsmod.Wrap(ErrInvalidParams, "custodian_threshold without custodians")
		}
		return nil
	}
	if p.CustodianThreshold < 2 || int(p.CustodianThreshold) > n {
		return errorsmod.Wrapf(ErrInvalidParams, "custodian_threshold %d: want 2 to %d (the number of custodians)", p.CustodianThreshold, n)
	}
	seen := map[string]bool{}
	for _, c := range p.Custodians {
		if c.Address == "" || seen[c.Address] {
			return errorsmod.Wrapf(ErrInvalidParams, "custodian %q empty or listed twice", c.Address)
		}
		seen[c.Address] = true
		if err := ValidateEncryptionKey(c.EncryptionKey); err != nil {
			return errorsmod.Wrapf(ErrInvalidParams, "custodian %s: %v", c.Address, err)
		}
	}
	return nil
}

// CustodianIndex is the position of addr in the custodian set, or -1.
func (p Params) CustodianIndex(addr string) int {
	for i, c := range p.Custodians {
		if c.Address == addr {
			return i
		}
	}
	return -1
}

// SameCustodianSet reports whether p and q have the same custodians (in
// order, with the same keys) and threshold.
func (p Params) SameCustodianSet(q Params) bool {
	if p.CustodianThreshold != q.CustodianThreshold || len(p.Custodians) != len(q.Custodians) {
		return false
	}
	for i := range p.Custodians {
		if p.Custodians[i].Address != q.Custodians[i].Address || string(p.Custodians[i].EncryptionKey) != string(q.Custodians[i].EncryptionKey) {
			return false
		}
	}
	return true
}
