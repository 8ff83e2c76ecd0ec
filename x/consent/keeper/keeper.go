// Package keeper holds the state of the patient's control plane — patient
// profiles, consents, the expiry queue — and the one access rule (CheckAccess).
package keeper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cosmossdk.io/collections"
	"cosmossdk.io/core/address"
	corestore "cosmossdk.io/core/store"
	errorsmod "cosmossdk.io/errors"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/internal/collidx"
	"github.com/healthd-chain/healthd/x/consent/types"
)

// ConsentIndexes are the secondary indexes of consents.
type ConsentIndexes struct {
	// ByPatient is (patient, status, id): a patient's consents, by status.
	ByPatient *collidx.Index[uint64, addrStatusKey, types.Consent]
	// ByGrantee is (grantee, status, id): the consents given to a grantee.
	ByGrantee *collidx.Index[uint64, addrStatusKey, types.Consent]
	// ByPair is (patient, grantee, id): what CheckAccess reads.
	ByPair *collidx.Index[uint64, collections.Triple[sdk.AccAddress, sdk.AccAddress, uint64], types.Consent]
	// Emergency is (patient, emergency, id): a patient's break-glass accesses.
	Emergency *collidx.Index[uint64, collections.Triple[sdk.AccAddress, bool, uint64], types.Consent]
}

// addrStatusKey is an (address, status, id) index key.
type addrStatusKey = collections.Triple[sdk.AccAddress, int32, uint64]

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
	// KeyEpochs holds the class-key epoch of (patient, data class) once a
	// revocation moved it above 1 (absent means 1).
	KeyEpochs collections.Map[collections.Pair[sdk.AccAddress, string], uint64]
	// Escrows holds each patient's emergency key escrow (issue #17).
	Escrows collections.Map[sdk.AccAddress, types.KeyEscrow]
	// Releases holds the custodians' releases, by (patient, access id,
	// custodian): once per custodian and emergency access.
	Releases collections.Map[collections.Triple[sdk.AccAddress, uint64, sdk.AccAddress], types.KeyRelease]
	// LiveEmergencies holds the ids of active emergency consents, for the
	// custodians' daemons (LiveEmergencyAccesses).
	LiveEmergencies collections.KeySet[uint64]
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
	byStatus := func(field func(types.Consent) string) func(uint64, types.Consent) (addrStatusKey, error) {
		return func(id uint64, c types.Consent) (addrStatusKey, error) {
			a, err := addr(field(c))
			return collections.Join3(a, int32(c.Status), id), err
		}
	}
	statusCodec := collections.TripleKeyCodec(sdk.AccAddressKey, collections.Int32Key, collections.Uint64Key)
	idx := ConsentIndexes{
		ByPatient: collidx.New(sb, types.ConsentsByPatientKey, "consents_by_patient", statusCodec,
			byStatus(func(c types.Consent) string { return c.Patient })),
		ByGrantee: collidx.New(sb, types.ConsentsByGranteeKey, "consents_by_grantee", statusCodec,
			byStatus(func(c types.Consent) string { return c.Grantee })),
		ByPair: collidx.New(sb, types.ConsentsByPairKey, "consents_by_pair",
			collections.TripleKeyCodec(sdk.AccAddressKey, sdk.AccAddressKey, collections.Uint64Key),
			func(id uint64, c types.Consent) (collections.Triple[sdk.AccAddress, sdk.AccAddress, uint64], error) {
				p, err := addr(c.Patient)
				if err != nil {
					return collections.Triple[sdk.AccAddress, sdk.AccAddress, uint64]{}, err
				}
				g, err := addr(c.Grantee)
				return collections.Join3(p, g, id), err
			}),
		Emergency: collidx.New(sb, types.ConsentsEmergencyKey, "consents_emergency",
			collections.TripleKeyCodec(sdk.AccAddressKey, collections.BoolKey, collections.Uint64Key),
			func(id uint64, c types.Consent) (collections.Triple[sdk.AccAddress, bool, uint64], error) {
				a, err := addr(c.Patient)
				return collections.Join3(a, c.Emergency, id), err
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
		KeyEpochs: collections.NewMap(sb, types.KeyEpochsKey, "key_epochs",
			collections.PairKeyCodec(sdk.AccAddressKey, collections.StringKey), collections.Uint64Value),
		Escrows: collections.NewMap(sb, types.EscrowsKey, "escrows", sdk.AccAddressKey, codec.CollValue[types.KeyEscrow](cdc)),
		Releases: collections.NewMap(sb, types.ReleasesKey, "releases",
			collections.TripleKeyCodec(sdk.AccAddressKey, collections.Uint64Key, sdk.AccAddressKey), codec.CollValue[types.KeyRelease](cdc)),
		LiveEmergencies: collections.NewKeySet(sb, types.LiveEmergenciesKey, "live_emergencies", collections.Uint64Key),
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

// ClassKeyEpoch returns the current epoch of patient's class key for
// dataClass: 1 until a revocation rotates it.
func (k Keeper) ClassKeyEpoch(ctx context.Context, patient sdk.AccAddress, dataClass string) (uint64, error) {
	e, err := k.KeyEpochs.Get(ctx, collections.Join(patient, dataClass))
	if errors.Is(err, collections.ErrNotFound) {
		return 1, nil
	}
	return e, err
}

// rotatableClasses returns those of classes whose class key can still move to
// a next epoch: the last epoch is crypto.MaxKeyEpoch, the longest key-regression
// chain clients derive. A class at the last epoch keeps it (a patient would
// need 4,095 revocations of consents carrying that class's key to get there).
func (k Keeper) rotatableClasses(ctx context.Context, patient sdk.AccAddress, classes []string) ([]string, error) {
	out := make([]string, 0, len(classes))
	for _, class := range classes {
		e, err := k.ClassKeyEpoch(ctx, patient, class)
		if err != nil {
			return nil, err
		}
		if e < crypto.MaxKeyEpoch {
			out = append(out, class)
		}
	}
	return out, nil
}

// rotateClassKeys moves the class key of each of classes to its next epoch
// after a revocation; the caller keeps them below crypto.MaxKeyEpoch.
func (k Keeper) rotateClassKeys(ctx context.Context, patient sdk.AccAddress, classes []string) error {
	for _, class := range classes {
		e, err := k.ClassKeyEpoch(ctx, patient, class)
		if err != nil {
			return err
		}
		if e >= crypto.MaxKeyEpoch {
			return fmt.Errorf("%s key epoch %d is the last", class, e)
		}
		if err := k.KeyEpochs.Set(ctx, collections.Join(patient, class), e+1); err != nil {
			return err
		}
	}
	return nil
}

// Codec returns the keeper's binary codec (the simulation's store decoder uses it).
func (k Keeper) Codec() codec.BinaryCodec { return k.cdc }
