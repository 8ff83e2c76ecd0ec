package keeper

import (
	"context"
	"encoding/hex"
	"errors"

	"cosmossdk.io/collections"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/internal/collidx"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	"github.com/healthd-chain/healthd/x/records/types"
)

// queryServer holds the keeper as a named field: its Params method would
// otherwise hide the keeper's Params collection.
type queryServer struct {
	k Keeper
}

var _ types.QueryServer = queryServer{}

// NewQueryServerImpl returns the Query service of x/records.
func NewQueryServerImpl(k Keeper) types.QueryServer { return queryServer{k: k} }

// Record returns one record.
func (q queryServer) Record(ctx context.Context, req *types.QueryRecordRequest) (*types.QueryRecordResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	r, err := q.k.GetRecord(ctx, req.Id)
	if err != nil {
		return nil, grpcError(err)
	}
	return &types.QueryRecordResponse{Record: r}, nil
}

// RecordsByPatient lists a patient's records from the index matching the
// filters: (patient, id), (patient, class), (patient, status) or
// (patient, class/status). Within a filter, records come in id order.
func (q queryServer) RecordsByPatient(ctx context.Context, req *types.QueryRecordsByPatientRequest) (*types.QueryRecordsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	patient, err := q.k.addressCodec.StringToBytes(req.Patient)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid patient address %q: %v", req.Patient, err)
	}
	if req.DataClass != "" {
		if err := consenttypes.ValidateDataClass(req.DataClass); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	if _, known := types.RecordStatus_name[int32(req.Status)]; !known {
		return nil, status.Errorf(codes.InvalidArgument, "unknown status %d", req.Status)
	}
	idx := q.k.Records.Indexes
	// the status is not indexed (it changes): with a status filter, the page is
	// filled from the patient's (or patient+class's) records in id order,
	// skipping the others, so a page may read more records than it returns
	var keep func(types.Record) bool
	if req.Status != types.RECORD_STATUS_UNSPECIFIED {
		keep = func(r types.Record) bool { return r.Status == req.Status }
	}
	if req.DataClass != "" {
		prefix := collections.TripleSuperPrefix[sdk.AccAddress, string, uint64](patient, req.DataClass)
		return filteredRecords(ctx, q, idx.ByPatientClass.Keys(), &prefix, req.Pagination, func(k triple) uint64 { return k.K3() }, keep)
	}
	prefix := collections.PairPrefix[sdk.AccAddress, uint64](patient)
	return filteredRecords(ctx, q, idx.ByPatient.Keys(), &prefix, req.Pagination, func(k pair) uint64 { return k.K2() }, keep)
}

// RecordsByAuthor lists an author's records in id order.
func (q queryServer) RecordsByAuthor(ctx context.Context, req *types.QueryRecordsByAuthorRequest) (*types.QueryRecordsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	author, err := q.k.addressCodec.StringToBytes(req.Author)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid author address %q: %v", req.Author, err)
	}
	prefix := collections.PairPrefix[sdk.AccAddress, uint64](author)
	return records(ctx, q, q.k.Records.Indexes.ByAuthor.Keys(), &prefix, req.Pagination, func(k pair) uint64 { return k.K2() })
}

// RecordByHash returns the record committed with a content hash (a hash is
// committed once, ever).
func (q queryServer) RecordByHash(ctx context.Context, req *types.QueryRecordByHashRequest) (*types.QueryRecordResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	hash, err := hex.DecodeString(req.ContentHash)
	if err != nil || len(hash) != types.HashLength {
		return nil, status.Errorf(codes.InvalidArgument, "content hash %q: want %d hex characters", req.ContentHash, 2*types.HashLength)
	}
	// A hash is committed once: one record at most, from the unique index.
	id, err := q.k.Records.Indexes.ByHash.Get(ctx, hash)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "no record with content hash %s", req.ContentHash)
	} else if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	r, err := q.k.Records.Get(ctx, id)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryRecordResponse{Record: r}, nil
}

// Receipt returns one access receipt.
func (q queryServer) Receipt(ctx context.Context, req *types.QueryReceiptRequest) (*types.QueryReceiptResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	r, err := q.k.Receipts.Get(ctx, req.Id)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "receipt %d not found", req.Id)
	} else if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryReceiptResponse{Receipt: r}, nil
}

// ReceiptsByPatient lists every read of a patient's records, oldest first.
func (q queryServer) ReceiptsByPatient(ctx context.Context, req *types.QueryReceiptsByPatientRequest) (*types.QueryReceiptsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	patient, err := q.k.addressCodec.StringToBytes(req.Patient)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid patient address %q: %v", req.Patient, err)
	}
	prefix := collections.PairPrefix[sdk.AccAddress, uint64](patient)
	receipts, pageRes, err := collidx.Page(ctx, q.k.Receipts.Indexes.ByPatient.Keys(), &prefix, req.Pagination,
		func(k pair) uint64 { return k.K2() }, func(id uint64) (types.AccessReceipt, error) { return q.k.Receipts.Get(ctx, id) })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryReceiptsResponse{Receipts: receipts, Pagination: pageRes}, nil
}

// ReceiptsByRecord lists every read of one record, oldest first.
func (q queryServer) ReceiptsByRecord(ctx context.Context, req *types.QueryReceiptsByRecordRequest) (*types.QueryReceiptsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	prefix := collections.PairPrefix[uint64, uint64](req.RecordId)
	receipts, pageRes, err := collidx.Page(ctx, q.k.Receipts.Indexes.ByRecord.Keys(), &prefix, req.Pagination,
		func(k collections.Pair[uint64, uint64]) uint64 { return k.K2() },
		func(id uint64) (types.AccessReceipt, error) { return q.k.Receipts.Get(ctx, id) })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryReceiptsResponse{Receipts: receipts, Pagination: pageRes}, nil
}

// batchAccessor decodes the accessor of a batched read query and bounds its
// ids (of what) to MaxQueryIDs.
func (q queryServer) batchAccessor(accessor string, ids int, what string) (sdk.AccAddress, error) {
	bz, err := q.k.addressCodec.StringToBytes(accessor)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "accessor: %v", err)
	}
	if ids > types.MaxQueryIDs {
		return nil, status.Errorf(codes.InvalidArgument, "at most %d %s per query", types.MaxQueryIDs, what)
	}
	return bz, nil
}

// RecordsByHashes returns the record of each content hash, in order (none
// where the hash is not committed), from the unique hash index.
func (q queryServer) RecordsByHashes(ctx context.Context, req *types.QueryRecordsByHashesRequest) (*types.QueryRecordsByHashesResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if len(req.ContentHashes) > types.MaxQueryIDs {
		return nil, status.Errorf(codes.InvalidArgument, "%d content hashes: at most %d per query", len(req.ContentHashes), types.MaxQueryIDs)
	}
	out := &types.QueryRecordsByHashesResponse{Results: make([]types.HashedRecord, len(req.ContentHashes))}
	for i, h := range req.ContentHashes {
		hash, err := hex.DecodeString(h)
		if err != nil || len(hash) != types.HashLength {
			return nil, status.Errorf(codes.InvalidArgument, "content hash %d %q: want %d hex characters", i, h, 2*types.HashLength)
		}
		out.Results[i].ContentHash = h
		// the unique index: one record at most
		id, err := q.k.Records.Indexes.ByHash.Get(ctx, hash)
		if errors.Is(err, collections.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		r, err := q.k.Records.Get(ctx, id)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		out.Results[i].Record = &r
	}
	return out, nil
}

// ReadDecisions returns the read decisions of one accessor for many records.
func (q queryServer) ReadDecisions(ctx context.Context, req *types.QueryReadDecisionsRequest) (*types.QueryReadDecisionsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	accessor, err := q.batchAccessor(req.Accessor, len(req.RecordIds), "records")
	if err != nil {
		return nil, err
	}
	out := &types.QueryReadDecisionsResponse{Decisions: make([]types.ReadDecision, len(req.RecordIds))}
	for i, id := range req.RecordIds {
		d := &out.Decisions[i]
		d.RecordId = id
		r, err := q.k.GetRecord(ctx, id)
		switch {
		case errors.Is(err, types.ErrRecordNotFound):
			d.NotFound = true
			continue
		case err != nil:
			return nil, status.Error(codes.Internal, err.Error())
		case r.Status == types.RECORD_STATUS_ERASED:
			d.Erased = true
			continue
		}
		decision, err := q.k.ReadDecision(ctx, accessor, r, req.Purpose)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		d.Allowed, d.Reason, d.ConsentId = decision.Allowed, decision.Reason, decision.ConsentID
		d.ContentHash, d.Author = r.ContentHash, r.Author
	}
	return out, nil
}

// ReceiptReads answers about many access receipts of one accessor.
func (q queryServer) ReceiptReads(ctx context.Context, req *types.QueryReceiptReadsRequest) (*types.QueryReceiptReadsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	accessor, err := q.batchAccessor(req.Accessor, len(req.ReceiptIds), "receipts")
	if err != nil {
		return nil, err
	}
	canonical, err := q.k.addressCodec.BytesToString(accessor)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	out := &types.QueryReceiptReadsResponse{Reads: make([]types.ReceiptRead, len(req.ReceiptIds))}
	for i, id := range req.ReceiptIds {
		rr := &out.Reads[i]
		rr.ReceiptId = id
		receipt, err := q.k.Receipts.Get(ctx, id)
		if errors.Is(err, collections.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if receipt.Accessor != canonical {
			continue
		}
		r, err := q.k.GetRecord(ctx, receipt.RecordId)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		rr.Found, rr.Time, rr.RecordId, rr.ContentHash, rr.Author = true, receipt.Time, r.Id, r.ContentHash, r.Author
		if r.Status == types.RECORD_STATUS_ERASED {
			rr.Erased = true
			continue
		}
		decision, err := q.k.ReadDecision(ctx, accessor, r, receipt.Purpose)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		rr.Allowed = decision.Allowed
	}
	return out, nil
}

// Params returns the module parameters.
func (q queryServer) Params(ctx context.Context, _ *types.QueryParamsRequest) (*types.QueryParamsResponse, error) {
	params, err := q.k.Params.Get(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryParamsResponse{Params: params}, nil
}

// records pages an index and loads the records it names.
func records[K any](ctx context.Context, q queryServer, keys collections.KeySet[K], prefix *K, req *query.PageRequest,
	pk func(K) uint64,
) (*types.QueryRecordsResponse, error) {
	return filteredRecords(ctx, q, keys, prefix, req, pk, nil)
}

// filteredRecords is records keeping only those keep accepts (all if keep is nil).
func filteredRecords[K any](ctx context.Context, q queryServer, keys collections.KeySet[K], prefix *K, req *query.PageRequest,
	pk func(K) uint64, keep func(types.Record) bool,
) (*types.QueryRecordsResponse, error) {
	rs, pageRes, err := collidx.FilteredPage(ctx, keys, prefix, req, pk, func(id uint64) (types.Record, error) { return q.k.Records.Get(ctx, id) }, keep)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryRecordsResponse{Records: rs, Pagination: pageRes}, nil
}

// grpcError maps the module's errors to gRPC status codes.
func grpcError(err error) error {
	if errors.Is(err, types.ErrRecordNotFound) {
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
