package types

import (
	"context"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"

	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// ConsentKeeper is what x/records needs from x/consent: the access rule and who
// the patient and its delegates are.
type ConsentKeeper interface {
	CheckAccess(ctx context.Context, patient, grantee sdk.AccAddress, dataClass, permission, purpose string,
		authoredAt time.Time, author sdk.AccAddress) (consenttypes.AccessDecision, error)
	IsPatient(ctx context.Context, addr sdk.AccAddress) (bool, error)
	IsPatientOrLiveDelegate(ctx context.Context, patient, signer sdk.AccAddress) (bool, error)
	ClassKeyEpoch(ctx context.Context, patient sdk.AccAddress, dataClass string) (uint64, error)
}

// ProvidersKeeper is what x/records needs from x/providers.
type ProvidersKeeper interface {
	IsActive(ctx context.Context, addr sdk.AccAddress) (bool, error)
}
