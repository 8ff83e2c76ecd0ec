package types

import (
	"slices"
	"time"

	"cosmossdk.io/core/address"
	errorsmod "cosmossdk.io/errors"

	"github.com/healthd-chain/healthd/internal/addrs"
)

const (
	// DefaultMaxCredentialValidity is one year: credentials are re-checked yearly.
	DefaultMaxCredentialValidity = 365 * 24 * time.Hour
	// maxCredentialValidityLimit caps the parameter itself (ten years).
	maxCredentialValidityLimit = 10 * 365 * 24 * time.Hour
	// MaxRegistrars bounds the registrar list (it is read on every approval).
	MaxRegistrars = 100
	// MaxValidatorOperators bounds the approved validator operators.
	MaxValidatorOperators = 200
)

// DefaultParams returns the default parameters: no registrars (only governance
// approves until registrars are named) and one-year credentials.
func DefaultParams() Params {
	return Params{MaxCredentialValidity: DefaultMaxCredentialValidity}
}

// Validate checks the parameters: registrars are distinct valid addresses, the
// validity is positive and at most ten years.
func (p Params) Validate(ac address.Codec) error {
	if len(p.Registrars) > MaxRegistrars {
		return errorsmod.Wrapf(ErrInvalidParams, "%d registrars, at most %d", len(p.Registrars), MaxRegistrars)
	}
	seen := make(map[string]bool, len(p.Registrars))
	for _, r := range p.Registrars {
		// One spelling per address, so that IsRegistrar can compare strings.
		if _, err := addrs.Decode(ac, r); err != nil {
			return errorsmod.Wrapf(ErrInvalidParams, "registrar %q: %v", r, err)
		}
		if seen[r] {
			return errorsmod.Wrapf(ErrInvalidParams, "registrar %s listed twice", r)
		}
		seen[r] = true
	}
	if len(p.ValidatorOperators) > MaxValidatorOperators {
		return errorsmod.Wrapf(ErrInvalidParams, "%d validator operators, at most %d", len(p.ValidatorOperators), MaxValidatorOperators)
	}
	seenOps := make(map[string]bool, len(p.ValidatorOperators))
	for _, o := range p.ValidatorOperators {
		if _, err := addrs.Decode(ac, o); err != nil {
			return errorsmod.Wrapf(ErrInvalidParams, "validator operator %q: %v", o, err)
		}
		if seenOps[o] {
			return errorsmod.Wrapf(ErrInvalidParams, "validator operator %s listed twice", o)
		}
		seenOps[o] = true
	}
	if p.MaxCredentialValidity <= 0 || p.MaxCredentialValidity > maxCredentialValidityLimit {
		return errorsmod.Wrapf(ErrInvalidParams, "max_credential_validity %s: must be positive and at most %s",
			p.MaxCredentialValidity, maxCredentialValidityLimit)
	}
	return nil
}

// IsValidatorOperator reports whether addr (canonical lower-case bech32) is an
// approved validator operator.
func (p Params) IsValidatorOperator(addr string) bool {
	return slices.Contains(p.ValidatorOperators, addr)
}

// IsRegistrar reports whether addr (canonical lower-case bech32) is a registrar.
func (p Params) IsRegistrar(addr string) bool {
	for _, r := range p.Registrars {
		if r == addr {
			return true
		}
	}
	return false
}
