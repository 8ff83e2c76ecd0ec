package keeper

import (
	"time"

	"github.com/healthd-chain/healthd/x/providers/types"
)

// isActiveAt is the activeness rule: status active and t before the credential
// expiry. A credential is valid while t < expiry; at expiry it is not.
func isActiveAt(p types.Provider, t time.Time) bool {
	return p.Status == types.PROVIDER_STATUS_ACTIVE && t.Before(p.CredentialExpiresAt)
}

// statusTransitionAllowed is the status machine of SetProviderStatus:
// suspend (active → suspended), reinstate (suspended → active), revoke (pending,
// active or suspended → revoked). Revoked is final.
func statusTransitionAllowed(from, to types.ProviderStatus) bool {
	switch to {
	case types.PROVIDER_STATUS_SUSPENDED:
		return from == types.PROVIDER_STATUS_ACTIVE
	case types.PROVIDER_STATUS_ACTIVE:
		return from == types.PROVIDER_STATUS_SUSPENDED
	case types.PROVIDER_STATUS_REVOKED:
		return from == types.PROVIDER_STATUS_PENDING || from == types.PROVIDER_STATUS_ACTIVE ||
			from == types.PROVIDER_STATUS_SUSPENDED
	default:
		return false
	}
}
