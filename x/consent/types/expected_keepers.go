package types

import (
	"context"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// ProvidersKeeper is what x/consent needs from the provider registry.
type ProvidersKeeper interface {
	// IsActive reports whether addr is a provider active at the block time.
	IsActive(ctx context.Context, addr sdk.AccAddress) (bool, error)
	// IsProvider reports whether addr has a registry entry (any status).
	IsProvider(ctx context.Context, addr sdk.AccAddress) (bool, error)
	// IsRegistrarOrAuthority reports whether addr is a registrar or governance.
	IsRegistrarOrAuthority(ctx context.Context, addr sdk.AccAddress) (bool, error)
	// SuspendForEmergencyAbuse suspends an active provider whose emergency access
	// was judged abusive by actor.
	SuspendForEmergencyAbuse(ctx context.Context, provider, actor sdk.AccAddress) error
}
