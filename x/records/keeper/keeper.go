// Package keeper holds the records data plane: record commitments, their
// amendments and erasures, and an access receipt for every read.
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
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	"github.com/healthd-chain/healthd/x/records/types"
)

type (
	triple = collections.Triple[sdk.AccAddress, string, uint64]
	pair   = collections.Pair[sdk.AccAddress, uint64]
)

// RecordIndexes are the secondary indexes of records. They index only fields a
// record never changes (patient, class, author, hash), so amending or erasing a
// record rewrites no index; the status filter of a list is applied while
// paging (see RecordsByPatient). Every index entry is an IAVL write per record,
// which is why there is no index by status (docs/benchmarks.md: 8 → 6 writes).
type RecordIndexes struct {
	// ByPatient is (patient, id): a patient's records in creation order.
	ByPatient *collidx.Index[uint64, pair, types.Record]
	// ByPatientClass is (patient, data class, id).
	ByPatientClass *collidx.Index[uint64, triple, types.Record]
	// ByAuthor is (author, id).
	ByAuthor *collidx.Index[uint64, pair, types.Record]
	// ByHash is content hash → id: unique (a hash is committed once, ever), and
	// read with a point lookup before every create and amend.
	ByHash *collidx.Unique[[]byte, types.Record]
}

// IndexesList implements collections.Indexes.
func (i RecordIndexes) IndexesList() []collections.Index[uint64, types.Record] {
	return []collections.Index[uint64, types.Record]{i.ByPatient, i.ByPatientClass, i.ByAuthor, i.ByHash}
}

// ReceiptIndexes are the secondary indexes of access receipts.
type ReceiptIndexes struct {
	// ByPatient is (patient, id): the accounting of disclosures.
	ByPatient *collidx.Index[uint64, pair, types.AccessReceipt]
	// ByRecord is (record id, id).
	ByRecord *collidx.Index[uint64, collections.Pair[uint64, uint64], types.AccessReceipt]
}

// IndexesList implements collections.Indexes.
func (i ReceiptIndexes) IndexesList() []collections.Index[uint64, types.AccessReceipt] {
	return []collections.Index[uint64, types.AccessReceipt]{i.ByPatient, i.ByRecord}
}

// Keeper is the records keeper.
type Keeper struct {
	cdc          codec.BinaryCodec
	addressCodec address.Codec
	authority    string
	consent      types.ConsentKeeper
	providers    types.ProvidersKeeper

	Schema     collections.Schema
	Params     collections.Item[types.Params]
	RecordSeq  collections.Sequence
	Records    *collections.IndexedMap[uint64, types.Record, RecordIndexes]
	ReceiptSeq collections.Sequence
	Receipts   *collections.IndexedMap[uint64, types.AccessReceipt, ReceiptIndexes]
}

// NewKeeper returns the records keeper. authority is the governance module
// account (bech32).
func NewKeeper(cdc codec.BinaryCodec, storeService corestore.KVStoreService, ac address.Codec, authority string,
	consent types.ConsentKeeper, providers types.ProvidersKeeper,
) (Keeper, error) {
	if _, err := ac.StringToBytes(authority); err != nil {
		return Keeper{}, fmt.Errorf("invalid authority address %q: %w", authority, err)
	}
	sb := collections.NewSchemaBuilder(storeService)
	tripleCodec := collections.TripleKeyCodec(sdk.AccAddressKey, collections.StringKey, collections.Uint64Key)
	pairCodec := collections.PairKeyCodec(sdk.AccAddressKey, collections.Uint64Key)
	recordIdx := RecordIndexes{
		ByPatient: collidx.New(sb, types.RecordsByPatientKey, "records_by_patient", pairCodec,
			func(id uint64, r types.Record) (pair, error) {
				p, err := ac.StringToBytes(r.Patient)
				return collections.Join(sdk.AccAddress(p), id), err
			}),
		ByPatientClass: collidx.New(sb, types.RecordsByPatientClassKey, "records_by_patient_class", tripleCodec,
			func(id uint64, r types.Record) (triple, error) {
				p, err := ac.StringToBytes(r.Patient)
				return collections.Join3(sdk.AccAddress(p), r.DataClass, id), err
			}),
		ByAuthor: collidx.New(sb, types.RecordsByAuthorKey, "records_by_author", pairCodec,
			func(id uint64, r types.Record) (pair, error) {
				a, err := ac.StringToBytes(r.Author)
				return collections.Join(sdk.AccAddress(a), id), err
			}),
		ByHash: collidx.NewUnique(sb, types.RecordsByHashKey, "records_by_hash", collections.BytesKey,
			func(_ uint64, r types.Record) ([]byte, error) { return r.ContentHash, nil }),
	}
	receiptIdx := ReceiptIndexes{
		ByPatient: collidx.New(sb, types.ReceiptsByPatientKey, "receipts_by_patient", pairCodec,
			func(id uint64, r types.AccessReceipt) (pair, error) {
				p, err := ac.StringToBytes(r.Patient)
				return collections.Join(sdk.AccAddress(p), id), err
			}),
		ByRecord: collidx.New(sb, types.ReceiptsByRecordKey, "receipts_by_record",
			collections.PairKeyCodec(collections.Uint64Key, collections.Uint64Key),
			func(id uint64, r types.AccessReceipt) (collections.Pair[uint64, uint64], error) {
				return collections.Join(r.RecordId, id), nil
			}),
	}
	k := Keeper{
		cdc:          cdc,
		addressCodec: ac,
		authority:    authority,
		consent:      consent,
		providers:    providers,
		Params:       collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
		RecordSeq:    collections.NewSequence(sb, types.RecordSeqKey, "record_seq"),
		Records: collections.NewIndexedMap(sb, types.RecordsKey, "records", collections.Uint64Key,
			codec.CollValue[types.Record](cdc), recordIdx),
		ReceiptSeq: collections.NewSequence(sb, types.ReceiptSeqKey, "receipt_seq"),
		Receipts: collections.NewIndexedMap(sb, types.ReceiptsKey, "receipts", collections.Uint64Key,
			codec.CollValue[types.AccessReceipt](cdc), receiptIdx),
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

// GetRecord returns a record or ErrRecordNotFound.
func (k Keeper) GetRecord(ctx context.Context, id uint64) (types.Record, error) {
	r, err := k.Records.Get(ctx, id)
	if errors.Is(err, collections.ErrNotFound) {
		return r, errorsmod.Wrapf(types.ErrRecordNotFound, "%d", id)
	}
	return r, err
}

// Codec returns the keeper's binary codec (the simulation's store decoder uses it).
func (k Keeper) Codec() codec.BinaryCodec { return k.cdc }

// ReadDecision is the access rule for accessor reading record r for purpose
// now: CheckAccess with the record's patient, class, authoring time and
// author (who may read what it wrote unless it is an inactive provider). It
// is the one decision behind MsgAccessRecord and the ReadDecisions and
// ReceiptReads queries.
func (k Keeper) ReadDecision(ctx context.Context, accessor sdk.AccAddress, r types.Record, purpose string) (consenttypes.AccessDecision, error) {
	patient, err := k.addressCodec.StringToBytes(r.Patient)
	if err != nil {
		return consenttypes.AccessDecision{}, err
	}
	author, err := k.addressCodec.StringToBytes(r.Author)
	if err != nil {
		return consenttypes.AccessDecision{}, err
	}
	return k.consent.CheckAccess(ctx, patient, accessor, r.DataClass, consenttypes.PermissionRead, purpose, r.CreatedAt, author)
}
