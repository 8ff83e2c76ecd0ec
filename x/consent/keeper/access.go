package keeper

import (
	"context"
	"time"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/x/consent/types"
)

// CheckAccess is the access rule, and the only place it lives. grantee may use
// permission on a record of dataClass belonging to patient, for purpose, if
//   - grantee is the patient; or
//   - grantee is not a provider, or is a provider active now (x/providers), AND
//     either it reads a record it authored itself (author, when the request is
//     about an existing record), or it holds a consent of the patient that is
//     active, whose period contains the block time (start ≤ t < end), and that
//     covers the data class, permission and purpose and, if it has a data
//     period, authoredAt.
//
// So a provider that is suspended, revoked or whose credential expired reads
// nothing, not even what it wrote, whatever else it registered as; it still
// reads the records of which it is itself the patient.
//
// Expiry is checked here, at the block time, whether or not EndBlock has marked
// the consent expired yet. A zero authoredAt means the block time; a nil author
// means none. Invalid arguments are an error (ErrInvalidAccessRequest), not a
// denial.
func (k Keeper) CheckAccess(ctx context.Context, patient, grantee sdk.AccAddress,
	dataClass, permission, purpose string, authoredAt time.Time, author sdk.AccAddress,
) (types.AccessDecision, error) {
	if err := types.ValidateDataClass(dataClass); err != nil {
		return types.AccessDecision{}, errorsmod.Wrap(types.ErrInvalidAccessRequest, err.Error())
	}
	if err := types.ValidatePermission(permission); err != nil {
		return types.AccessDecision{}, errorsmod.Wrap(types.ErrInvalidAccessRequest, err.Error())
	}
	if err := types.ValidatePurpose(purpose); err != nil {
		return types.AccessDecision{}, errorsmod.Wrap(types.ErrInvalidAccessRequest, err.Error())
	}
	if patient.Equals(grantee) {
		return types.AccessDecision{Allowed: true, Reason: types.ACCESS_REASON_PATIENT}, nil
	}
	isProvider, err := k.providers.IsProvider(ctx, grantee)
	if err != nil {
		return types.AccessDecision{}, err
	}
	if isProvider {
		if active, err := k.providers.IsActive(ctx, grantee); err != nil {
			return types.AccessDecision{}, err
		} else if !active {
			return types.AccessDecision{Reason: types.ACCESS_REASON_PROVIDER_INACTIVE}, nil
		}
	}
	if permission == types.PermissionRead && !author.Empty() && author.Equals(grantee) {
		return types.AccessDecision{Allowed: true, Reason: types.ACCESS_REASON_AUTHOR}, nil
	}

	now := blockTime(ctx)
	if authoredAt.IsZero() {
		authoredAt = now
	}
	// The pair index holds every consent this patient gave this grantee, read
	// newest first (live consents are the recent ones, so an allowed request
	// usually stops at the first), in a fixed order, so the decision is
	// deterministic. When nothing allows, the reason comes from the newest
	// consent that covers the request (revoked, expired, not started), else "not
	// covered", else "no consent".
	decision := types.AccessDecision{Reason: types.ACCESS_REASON_NO_CONSENT}
	coveredReason := types.ACCESS_REASON_UNSPECIFIED
	rng := collections.NewSuperPrefixedTripleRangeReversed[sdk.AccAddress, sdk.AccAddress, uint64](patient, grantee)
	err = k.Consents.Indexes.ByPair.Keys().Walk(ctx, rng, func(key collections.Triple[sdk.AccAddress, sdk.AccAddress, uint64]) (bool, error) {
		c, err := k.Consents.Get(ctx, key.K3())
		if err != nil {
			return true, err
		}
		if !c.Covers(dataClass, permission, purpose, authoredAt) {
			decision.Reason = types.ACCESS_REASON_NOT_COVERED
			return false, nil
		}
		reason := types.ACCESS_REASON_UNSPECIFIED
		switch {
		case c.Status == types.CONSENT_STATUS_REVOKED:
			reason = types.ACCESS_REASON_REVOKED
		case c.Status == types.CONSENT_STATUS_EXPIRED || !now.Before(c.Period.End):
			reason = types.ACCESS_REASON_EXPIRED
		case now.Before(c.Period.Start):
			reason = types.ACCESS_REASON_NOT_STARTED
		default:
			decision = types.AccessDecision{Allowed: true, ConsentID: c.Id, Reason: types.ACCESS_REASON_CONSENT, Emergency: c.Emergency}
			return true, nil
		}
		if coveredReason == types.ACCESS_REASON_UNSPECIFIED {
			coveredReason = reason // the newest covering consent's reason
		}
		return false, nil
	})
	if err != nil {
		return types.AccessDecision{}, err
	}
	if !decision.Allowed && coveredReason != types.ACCESS_REASON_UNSPECIFIED {
		decision.Reason = coveredReason
	}
	return decision, nil
}

// view returns the consent as it stands at t: an active consent whose period has
// ended is shown expired even before EndBlock marks it.
func view(c types.Consent, t time.Time) types.Consent {
	if c.Status == types.CONSENT_STATUS_ACTIVE && !t.Before(c.Period.End) {
		c.Status = types.CONSENT_STATUS_EXPIRED
	}
	return c
}
