// Package keeper holds the state of the provider registry and the rules that
// change it. Other modules use GetProvider and IsActive.
package keeper

import (
	"context"
	"errors"
	"fmt"

	"cosmossdk.io/collections"
	"cosmossdk.io/collections/indexes"
	"cosmossdk.io/core/address"
	corestore "cosmossdk.io/core/store"
	errorsmod "cosmossdk.io/errors"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/x/providers/types"
)

// ProviderIndexes are the secondary indexes of the registry. The list query
// reads the one that matches its filters, never a filtered scan.
type ProviderIndexes struct {
	// Status indexes providers by status.
	Status *indexes.Multi[int32, sdk.AccAddress, types.Provider]
	// Kind indexes providers by kind.
	Kind *indexes.Multi[int32, sdk.AccAddress, types.Provider]
	// StatusKind indexes providers by (status, kind).
	StatusKind *indexes.Multi[collections.Pair[int32, int32], sdk.AccAddress, types.Provider]
}

// IndexesList implements collections.Indexes.
func (i ProviderIndexes) IndexesList() []collections.Index[sdk.AccAddress, types.Provider] {
	return []collections.Index[sdk.AccAddress, types.Provider]{i.Status, i.Kind, i.StatusKind}
}

func newProviderIndexes(sb *collections.SchemaBuilder) ProviderIndexes {
	return ProviderIndexes{
		Status: indexes.NewMulti(sb, types.ProvidersByStatusKey, "providers_by_status",
			collections.Int32Key, sdk.AccAddressKey,
			func(_ sdk.AccAddress, p types.Provider) (int32, error) { return int32(p.Status), nil }),
		Kind: indexes.NewMulti(sb, types.ProvidersByKindKey, "providers_by_kind",
			collections.Int32Key, sdk.AccAddressKey,
			func(_ sdk.AccAddress, p types.Provider) (int32, error) { return int32(p.Kind), nil }),
		StatusKind: indexes.NewMulti(sb, types.ProvidersByStatusKindKey, "providers_by_status_kind",
			collections.PairKeyCodec(collections.Int32Key, collections.Int32Key), sdk.AccAddressKey,
			func(_ sdk.AccAddress, p types.Provider) (collections.Pair[int32, int32], error) {
				return collections.Join(int32(p.Status), int32(p.Kind)), nil
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

	// views read the indexes' storage for paginated queries (see indexViews).
	views indexViews
}

// indexViews are read-only key sets over the storage of the three indexes.
// collections' Multi index keeps its keys in exactly such a key set (same prefix,
// same key codec) but does not expose the raw iteration that the SDK's
// query.CollectionPaginate needs; these views give it, and are never written.
type indexViews struct {
	status     collections.KeySet[collections.Pair[int32, sdk.AccAddress]]
	kind       collections.KeySet[collections.Pair[int32, sdk.AccAddress]]
	statusKind collections.KeySet[collections.Pair[collections.Pair[int32, int32], sdk.AccAddress]]
}

func newIndexViews(storeService corestore.KVStoreService) (indexViews, error) {
	// A schema of their own: the module schema already owns these prefixes.
	sb := collections.NewSchemaBuilder(storeService)
	v := indexViews{
		status: collections.NewKeySet(sb, types.ProvidersByStatusKey, "view_by_status",
			collections.PairKeyCodec(collections.Int32Key, sdk.AccAddressKey)),
		kind: collections.NewKeySet(sb, types.ProvidersByKindKey, "view_by_kind",
			collections.PairKeyCodec(collections.Int32Key, sdk.AccAddressKey)),
		statusKind: collections.NewKeySet(sb, types.ProvidersByStatusKindKey, "view_by_status_kind",
			collections.PairKeyCodec(collections.PairKeyCodec(collections.Int32Key, collections.Int32Key), sdk.AccAddressKey)),
	}
	_, err := sb.Build()
	return v, err
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
	if k.views, err = newIndexViews(storeService); err != nil {
		return Keeper{}, err
	}
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
// no per-block scan of the registry.
func (k Keeper) IsActive(ctx context.Context, addr sdk.AccAddress) bool {
	p, err := k.Providers.Get(ctx, addr)
	if err != nil {
		return false
	}
	return isActiveAt(p, sdk.UnwrapSDKContext(ctx).BlockTime())
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
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventProviderStatusChanged{
		Address: p.Address, Actor: actorStr, From: types.PROVIDER_STATUS_ACTIVE,
		To: types.PROVIDER_STATUS_SUSPENDED, Reason: types.STATUS_REASON_EMERGENCY_ACCESS_ABUSE,
	})
}

// GetParams returns the module parameters.
func (k Keeper) GetParams(ctx context.Context) (types.Params, error) { return k.Params.Get(ctx) }

// Codec returns the keeper's binary codec (the simulation's store decoder uses it).
func (k Keeper) Codec() codec.BinaryCodec { return k.cdc }
