// Package keeper holds the state of the provider registry and the rules that
// change it. Other modules use GetProvider and IsActive.
package keeper

import (
	"context"
	"errors"
	"fmt"

	"cosmossdk.io/collections"
	"cosmossdk.io/core/address"
	corestore "cosmossdk.io/core/store"
	errorsmod "cosmossdk.io/errors"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/internal/collidx"
	"github.com/healthd-chain/healthd/internal/modkit"
	"github.com/healthd-chain/healthd/x/providers/types"
)

// ProviderIndexes are the secondary indexes of the registry, one collidx
// index per filter of the list query (as in x/records and x/consent): each a
// key set of (filter, address) that the query paginates with a prefix, never
// a filtered scan.
type ProviderIndexes struct {
	// Status indexes providers by (status, address).
	Status *collidx.Index[sdk.AccAddress, collections.Pair[int32, sdk.AccAddress], types.Provider]
	// Kind indexes providers by (kind, address).
	Kind *collidx.Index[sdk.AccAddress, collections.Pair[int32, sdk.AccAddress], types.Provider]
	// StatusKind indexes providers by ((status, kind), address).
	StatusKind *collidx.Index[sdk.AccAddress, collections.Pair[collections.Pair[int32, int32], sdk.AccAddress], types.Provider]
}

// IndexesList implements collections.Indexes.
func (i ProviderIndexes) IndexesList() []collections.Index[sdk.AccAddress, types.Provider] {
	return []collections.Index[sdk.AccAddress, types.Provider]{i.Status, i.Kind, i.StatusKind}
}

func newProviderIndexes(sb *collections.SchemaBuilder) ProviderIndexes {
	byInt := collections.PairKeyCodec(collections.Int32Key, sdk.AccAddressKey)
	return ProviderIndexes{
		Status: collidx.New(sb, types.ProvidersByStatusKey, "providers_by_status", byInt,
			func(pk sdk.AccAddress, p types.Provider) (collections.Pair[int32, sdk.AccAddress], error) {
				return collections.Join(int32(p.Status), pk), nil
			}),
		Kind: collidx.New(sb, types.ProvidersByKindKey, "providers_by_kind", byInt,
			func(pk sdk.AccAddress, p types.Provider) (collections.Pair[int32, sdk.AccAddress], error) {
				return collections.Join(int32(p.Kind), pk), nil
			}),
		StatusKind: collidx.New(sb, types.ProvidersByStatusKindKey, "providers_by_status_kind",
			collections.PairKeyCodec(collections.PairKeyCodec(collections.Int32Key, collections.Int32Key), sdk.AccAddressKey),
			func(pk sdk.AccAddress, p types.Provider) (collections.Pair[collections.Pair[int32, int32], sdk.AccAddress], error) {
				return collections.Join(collections.Join(int32(p.Status), int32(p.Kind)), pk), nil
			}),
	}
}

// Keeper is the provider registry.
type Keeper struct {
	cdc          codec.BinaryCodec
	addressCodec address.Codec
	// authority is the governance module account (bech32): it may do everything a
	// registrar may, and change params.
	authority string

	Schema    collections.Schema
	Params    collections.Item[types.Params]
	Providers *collections.IndexedMap[sdk.AccAddress, types.Provider, ProviderIndexes]
}

// NewKeeper returns the registry keeper. authority is the bech32 address of the
// governance module account.
func NewKeeper(cdc codec.BinaryCodec, storeService corestore.KVStoreService, ac address.Codec, authority string) (Keeper, error) {
	if _, err := ac.StringToBytes(authority); err != nil {
		return Keeper{}, fmt.Errorf("invalid authority address %q: %w", authority, err)
	}
	sb := collections.NewSchemaBuilder(storeService)
	k := Keeper{
		cdc:          cdc,
		addressCodec: ac,
		authority:    authority,
		Params:       collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
		Providers: collections.NewIndexedMap(sb, types.ProvidersKey, "providers", sdk.AccAddressKey,
			codec.CollValue[types.Provider](cdc), newProviderIndexes(sb)),
	}
	schema, err := sb.Build()
	if err != nil {
		return Keeper{}, err
	}
	k.Schema = schema
	return k, nil
}

// Authority returns the governance authority's address.
func (k Keeper) Authority() string { return k.authority }

// AddressCodec returns the account address codec.
func (k Keeper) AddressCodec() address.Codec { return k.addressCodec }

// GetProvider returns the registry entry of addr, or ErrProviderNotFound.
func (k Keeper) GetProvider(ctx context.Context, addr sdk.AccAddress) (types.Provider, error) {
	p, err := k.Providers.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return types.Provider{}, errorsmod.Wrapf(types.ErrProviderNotFound, "%s", addr)
	}
	return p, err
}

// IsActive reports whether addr is a provider that may act now: its status is
// active AND the block time is before its credential expiry. Expiry is checked
// here, at every use, so it takes effect at the exact block time it passes with
// no per-block scan of the registry. An unknown address is not active; a
// store failure is an error, never a silent "inactive".
func (k Keeper) IsActive(ctx context.Context, addr sdk.AccAddress) (bool, error) {
	p, err := k.Providers.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return isActiveAt(p, sdk.UnwrapSDKContext(ctx).BlockTime()), nil
}

// isAuthority reports whether addr is the governance authority.
func (k Keeper) isAuthority(addr sdk.AccAddress) (bool, error) {
	authority, err := k.addressCodec.StringToBytes(k.authority)
	if err != nil {
		return false, err
	}
	return addr.Equals(sdk.AccAddress(authority)), nil
}

// isRegistrarOrAuthority reports whether addr may approve providers and change
// their status. Addresses are compared as bytes, so any valid spelling matches.
func (k Keeper) isRegistrarOrAuthority(ctx context.Context, addr sdk.AccAddress) (bool, error) {
	if ok, err := k.isAuthority(addr); err != nil || ok {
		return ok, err
	}
	params, err := k.Params.Get(ctx)
	if err != nil {
		return false, err
	}
	canonical, err := k.addressCodec.BytesToString(addr)
	if err != nil {
		return false, err
	}
	return params.IsRegistrar(canonical), nil
}

// IsProvider reports whether addr has a registry entry, whatever its status.
func (k Keeper) IsProvider(ctx context.Context, addr sdk.AccAddress) (bool, error) {
	return k.Providers.Has(ctx, addr)
}

// IsRegistrarOrAuthority reports whether addr is a registrar or the governance
// authority: the accounts that judge providers (here and in x/consent reviews).
func (k Keeper) IsRegistrarOrAuthority(ctx context.Context, addr sdk.AccAddress) (bool, error) {
	return k.isRegistrarOrAuthority(ctx, addr)
}

// SuspendForEmergencyAbuse suspends provider after actor (a registrar or the
// authority, checked by the caller) judged one of its emergency accesses abusive.
// Only an active provider changes; a provider already suspended or revoked stays
// as it is. It emits the same event as SetProviderStatus.
func (k Keeper) SuspendForEmergencyAbuse(ctx context.Context, provider, actor sdk.AccAddress) error {
	p, err := k.GetProvider(ctx, provider)
	if err != nil {
		return err
	}
	if p.Status != types.PROVIDER_STATUS_ACTIVE {
		return nil
	}
	if provider.Equals(actor) {
		return errorsmod.Wrapf(types.ErrSelfAction, "%s", actor)
	}
	actorStr, err := k.addressCodec.BytesToString(actor)
	if err != nil {
		return err
	}
	p.Status = types.PROVIDER_STATUS_SUSPENDED
	p.StatusReason = types.STATUS_REASON_EMERGENCY_ACCESS_ABUSE
	p.UpdatedAt = sdk.UnwrapSDKContext(ctx).BlockTime()
	if err := k.Providers.Set(ctx, provider, p); err != nil {
		return err
	}
	return modkit.Emit(ctx, &types.EventProviderStatusChanged{
		Address: p.Address, Actor: actorStr, From: types.PROVIDER_STATUS_ACTIVE,
		To: types.PROVIDER_STATUS_SUSPENDED, Reason: types.STATUS_REASON_EMERGENCY_ACCESS_ABUSE,
	})
}

// GetParams returns the module parameters.
func (k Keeper) GetParams(ctx context.Context) (types.Params, error) { return k.Params.Get(ctx) }

// Codec returns the keeper's binary codec (the simulation's store decoder uses it).
func (k Keeper) Codec() codec.BinaryCodec { return k.cdc }
