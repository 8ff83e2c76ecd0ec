// Package keeper holds the state of the patient's control plane — patient
// profiles, consents, the expiry queue — and the one access rule (CheckAccess).
package keeper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cosmossdk.io/collections"
	collcodec "cosmossdk.io/collections/codec"
	"cosmossdk.io/core/address"
	corestore "cosmossdk.io/core/store"
	errorsmod "cosmossdk.io/errors"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/x/consent/types"
)

// tripleIndex indexes values by a (K1, K2, primary key) triple computed from the
// value. Unlike collections' Multi index, its key set is reachable, so the list
// queries can paginate it with a prefix on K1 or on (K1, K2).
type tripleIndex[K1, K2, V any] struct {
	keys collections.KeySet[collections.Triple[K1, K2, uint64]]
	ref  func(V) (K1, K2, error)
}

func newTripleIndex[K1, K2, V any](sb *collections.SchemaBuilder, prefix collections.Prefix, name string,
	c1 collcodec.KeyCodec[K1], c2 collcodec.KeyCodec[K2], ref func(V) (K1, K2, error),
) *tripleIndex[K1, K2, V] {
	return &tripleIndex[K1, K2, V]{
		keys: collections.NewKeySet(sb, prefix, name, collections.TripleKeyCodec(c1, c2, collections.Uint64Key),
			collections.WithKeySetSecondaryIndex()),
		ref: ref,
	}
}

// Reference implements collections.Index: it moves the entry when the indexed
// fields of the value change.
func (i *tripleIndex[K1, K2, V]) Reference(ctx context.Context, pk uint64, v V, lazyOld func() (V, error)) error {
	old, err := lazyOld()
	switch {
	case err == nil:
		if err := i.remove(ctx, pk, old); err != nil {
			return err
		}
	case !errors.Is(err, collections.ErrNotFound):
		return err
	}
	k1, k2, err := i.ref(v)
	if err != nil {
		return err
	}
	return i.keys.Set(ctx, collections.Join3(k1, k2, pk))
}

// Unreference implements collections.Index.
func (i *tripleIndex[K1, K2, V]) Unreference(ctx context.Context, pk uint64, lazyOld func() (V, error)) error {
	old, err := lazyOld()
	if err != nil {
		return err
	}
	return i.remove(ctx, pk, old)
}

func (i *tripleIndex[K1, K2, V]) remove(ctx context.Context, pk uint64, v V) error {
	k1, k2, err := i.ref(v)
	if err != nil {
		return err
	}
	return i.keys.Remove(ctx, collections.Join3(k1, k2, pk))
}

// ConsentIndexes are the secondary indexes of consents.
type ConsentIndexes struct {
	// ByPatient is (patient, status, id): a patient's consents, by status.
	ByPatient *tripleIndex[sdk.AccAddress, int32, types.Consent]
	// ByGrantee is (grantee, status, id): the consents given to a grantee.
	ByGrantee *tripleIndex[sdk.AccAddress, int32, types.Consent]
	// ByPair is (patient, grantee, id): what CheckAccess reads.
	ByPair *tripleIndex[sdk.AccAddress, sdk.AccAddress, types.Consent]
	// Emergency is (patient, emergency, id): a patient's break-glass accesses.
	Emergency *tripleIndex[sdk.AccAddress, bool, types.Consent]
}

// IndexesList implements collections.Indexes.
func (i ConsentIndexes) IndexesList() []collections.Index[uint64, types.Consent] {
	return []collections.Index[uint64, types.Consent]{i.ByPatient, i.ByGrantee, i.ByPair, i.Emergency}
}

// Keeper is the consent keeper.
type Keeper struct {
	cdc          codec.BinaryCodec
	addressCodec address.Codec
	authority    string
	providers    types.ProvidersKeeper

	Schema     collections.Schema
	Params     collections.Item[types.Params]
	Patients   collections.Map[sdk.AccAddress, types.PatientProfile]
	ConsentSeq collections.Sequence
	Consents   *collections.IndexedMap[uint64, types.Consent, ConsentIndexes]
	// ExpiryQueue holds (end in Unix seconds rounded up, id) of active consents
	// (see QueueKey). The SDK's time key codec is deprecated for new keys and
	// collections v1.3 has none.
	ExpiryQueue collections.KeySet[collections.Pair[int64, uint64]]
}

// NewKeeper returns the consent keeper. authority is the governance module
// account (bech32).
func NewKeeper(cdc codec.BinaryCodec, storeService corestore.KVStoreService, ac address.Codec,
	authority string, providers types.ProvidersKeeper,
) (Keeper, error) {
	if _, err := ac.StringToBytes(authority); err != nil {
		return Keeper{}, fmt.Errorf("invalid authority address %q: %w", authority, err)
	}
	addr := func(s string) (sdk.AccAddress, error) { return ac.StringToBytes(s) }
	sb := collections.NewSchemaBuilder(storeService)
	idx := ConsentIndexes{
		ByPatient: newTripleIndex(sb, types.ConsentsByPatientKey, "consents_by_patient", sdk.AccAddressKey, collections.Int32Key,
			func(c types.Consent) (sdk.AccAddress, int32, error) {
				a, err := addr(c.Patient)
				return a, int32(c.Status), err
			}),
		ByGrantee: newTripleIndex(sb, types.ConsentsByGranteeKey, "consents_by_grantee", sdk.AccAddressKey, collections.Int32Key,
			func(c types.Consent) (sdk.AccAddress, int32, error) {
				a, err := addr(c.Grantee)
				return a, int32(c.Status), err
			}),
		ByPair: newTripleIndex(sb, types.ConsentsByPairKey, "consents_by_pair", sdk.AccAddressKey, sdk.AccAddressKey,
			func(c types.Consent) (sdk.AccAddress, sdk.AccAddress, error) {
				p, err := addr(c.Patient)
				if err != nil {
					return nil, nil, err
				}
				g, err := addr(c.Grantee)
				return p, g, err
			}),
		Emergency: newTripleIndex(sb, types.ConsentsEmergencyKey, "consents_emergency", sdk.AccAddressKey, collections.BoolKey,
			func(c types.Consent) (sdk.AccAddress, bool, error) {
				a, err := addr(c.Patient)
				return a, c.Emergency, err
			}),
	}
	k := Keeper{
		cdc:          cdc,
		addressCodec: ac,
		authority:    authority,
		providers:    providers,
		Params:       collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
		Patients: collections.NewMap(sb, types.PatientsKey, "patients", sdk.AccAddressKey,
			codec.CollValue[types.PatientProfile](cdc)),
		ConsentSeq: collections.NewSequence(sb, types.ConsentSeqKey, "consent_seq"),
		Consents: collections.NewIndexedMap(sb, types.ConsentsKey, "consents", collections.Uint64Key,
			codec.CollValue[types.Consent](cdc), idx),
		ExpiryQueue: collections.NewKeySet(sb, types.ExpiryQueueKey, "expiry_queue",
			collections.PairKeyCodec(collections.Int64Key, collections.Uint64Key)),
	}
	schema, err := sb.Build()
	if err != nil {
		return Keeper{}, err
	}
	k.Schema = schema
	return k, nil
}

// AddressCodec returns the account address codec.
func (k Keeper) AddressCodec() address.Codec { return k.addressCodec }

// Authority returns the governance authority's address.
func (k Keeper) Authority() string { return k.authority }

// GetConsent returns a consent or ErrConsentNotFound.
func (k Keeper) GetConsent(ctx context.Context, id uint64) (types.Consent, error) {
	c, err := k.Consents.Get(ctx, id)
	if errors.Is(err, collections.ErrNotFound) {
		return c, errorsmod.Wrapf(types.ErrConsentNotFound, "%d", id)
	}
	return c, err
}

// GetPatient returns a patient profile or ErrPatientNotFound.
func (k Keeper) GetPatient(ctx context.Context, addr sdk.AccAddress) (types.PatientProfile, error) {
	p, err := k.Patients.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return p, errorsmod.Wrapf(types.ErrPatientNotFound, "%s", addr)
	}
	return p, err
}

// IsLiveDelegate reports whether delegate may act for the patient now: listed in
// the profile with block time before its expiry.
func IsLiveDelegate(p types.PatientProfile, delegate string, now time.Time) bool {
	for _, d := range p.Delegates {
		if d.Address == delegate && now.Before(d.ExpiresAt) {
			return true
		}
	}
	return false
}

// blockTime is the only clock of the state machine.
func blockTime(ctx context.Context) time.Time { return sdk.UnwrapSDKContext(ctx).BlockTime() }

// IsPatient reports whether addr is a registered patient.
func (k Keeper) IsPatient(ctx context.Context, addr sdk.AccAddress) (bool, error) {
	return k.Patients.Has(ctx, addr)
}

// IsPatientOrLiveDelegate reports whether signer is the (registered) patient or a
// live delegate of it at the block time.
func (k Keeper) IsPatientOrLiveDelegate(ctx context.Context, patient, signer sdk.AccAddress) (bool, error) {
	profile, err := k.GetPatient(ctx, patient)
	if err != nil {
		return false, err
	}
	if patient.Equals(signer) {
		return true, nil
	}
	canonical, err := k.addressCodec.BytesToString(signer)
	if err != nil {
		return false, err
	}
	return IsLiveDelegate(profile, canonical, blockTime(ctx)), nil
}
