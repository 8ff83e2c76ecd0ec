// Package modkit holds what the msg servers of x/providers, x/consent and
// x/records share beyond address decoding (internal/addrs): the governance
// authority check of MsgUpdateParams and typed event emission.
package modkit

import (
	"context"

	"cosmossdk.io/core/address"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// RequireAuthority returns nil if signer is the governance authority (its
// bech32 form authority), else unauthorized naming the authority. Addresses
// are compared as bytes.
func RequireAuthority(ac address.Codec, authority string, signer sdk.AccAddress, unauthorized *errorsmod.Error) error {
	gov, err := ac.StringToBytes(authority)
	if err != nil {
		return err
	}
	if !signer.Equals(sdk.AccAddress(gov)) {
		return errorsmod.Wrapf(unauthorized, "only the governance authority %s may change params", authority)
	}
	return nil
}

// Emit emits a typed event (a proto message) on ctx's event manager.
func Emit(ctx context.Context, ev sdk.Msg) error {
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(ev)
}
