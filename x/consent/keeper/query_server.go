package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/internal/collidx"
	"github.com/healthd-chain/healthd/x/consent/types"
)

// queryServer holds the keeper as a named field: its Params method would
// otherwise hide the keeper's Params collection.
type queryServer struct {
	k Keeper
}

var _ types.QueryServer = queryServer{}

// NewQueryServerImpl returns the Query service of x/consent.
func NewQueryServerImpl(k Keeper) types.QueryServer { return queryServer{k: k} }

// Consent returns one consent, as it stands at the query height.
func (q queryServer) Consent(ctx context.Context, req *types.QueryConsentRequest) (*types.QueryConsentResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	c, err := q.k.GetConsent(ctx, req.Id)
	if err != nil {
		return nil, grpcError(err)
	}
	return &types.QueryConsentResponse{Consent: view(c, blockTime(ctx))}, nil
}

// ConsentsByPatient lists a patient's consents from the (patient, status) index.
func (q queryServer) ConsentsByPatient(ctx context.Context, req *types.QueryConsentsByPatientRequest) (*types.QueryConsentsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	return q.listByStatus(ctx, q.k.Consents.Indexes.ByPatient, req.Patient, req.Status, req.Pagination)
}

// ConsentsByGrantee lists the consents given to a grantee from the (grantee,
// status) index.
func (q queryServer) ConsentsByGrantee(ctx context.Context, req *types.QueryConsentsByGranteeRequest) (*types.QueryConsentsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	return q.listByStatus(ctx, q.k.Consents.Indexes.ByGrantee, req.Grantee, req.Status, req.Pagination)
}

// ConsentsByPair lists the consents patient gave grantee from the (patient,
// grantee) index that CheckAccess reads.
func (q queryServer) ConsentsByPair(ctx context.Context, req *types.QueryConsentsByPairRequest) (*types.QueryConsentsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	patient, grantee, err := q.pair(req.Patient, req.Grantee)
	if err != nil {
		return nil, err
	}
	prefix := collections.TripleSuperPrefix[sdk.AccAddress, sdk.AccAddress, uint64](patient, grantee)
	return page(ctx, q, q.k.Consents.Indexes.ByPair.Keys(), &prefix, req.Pagination,
		func(k collections.Triple[sdk.AccAddress, sdk.AccAddress, uint64]) uint64 { return k.K3() })
}

// EmergencyAccesses lists a patient's break-glass accesses from the emergency index.
func (q queryServer) EmergencyAccesses(ctx context.Context, req *types.QueryEmergencyAccessesRequest) (*types.QueryConsentsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	patient, err := q.k.addressCodec.StringToBytes(req.Patient)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid patient address %q: %v", req.Patient, err)
	}
	prefix := collections.TripleSuperPrefix[sdk.AccAddress, bool, uint64](patient, true)
	return page(ctx, q, q.k.Consents.Indexes.Emergency.Keys(), &prefix, req.Pagination,
		func(k collections.Triple[sdk.AccAddress, bool, uint64]) uint64 { return k.K3() })
}

// CheckAccess applies the access rule at the query height.
func (q queryServer) CheckAccess(ctx context.Context, req *types.QueryCheckAccessRequest) (*types.QueryCheckAccessResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	patient, grantee, err := q.pair(req.Patient, req.Grantee)
	if err != nil {
		return nil, err
	}
	var author sdk.AccAddress
	if req.Author != "" {
		if author, err = q.k.addressCodec.StringToBytes(req.Author); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "invalid author address %q: %v", req.Author, err)
		}
	}
	d, err := q.k.CheckAccess(ctx, patient, grantee, req.DataClass, req.Permission, req.Purpose, req.AuthoredAt, author)
	if err != nil {
		return nil, grpcError(err)
	}
	return &types.QueryCheckAccessResponse{Allowed: d.Allowed, ConsentId: d.ConsentID, Reason: d.Reason, Emergency: d.Emergency}, nil
}

// Patient returns a patient profile.
func (q queryServer) Patient(ctx context.Context, req *types.QueryPatientRequest) (*types.QueryPatientResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	addr, err := q.k.addressCodec.StringToBytes(req.Address)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid address %q: %v", req.Address, err)
	}
	p, err := q.k.GetPatient(ctx, addr)
	if err != nil {
		return nil, grpcError(err)
	}
	return &types.QueryPatientResponse{Patient: p}, nil
}

// KeyEpochs returns a patient's class-key epochs above 1, in class order.
func (q queryServer) KeyEpochs(ctx context.Context, req *types.QueryKeyEpochsRequest) (*types.QueryKeyEpochsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	addr, err := q.k.addressCodec.StringToBytes(req.Patient)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid address %q: %v", req.Patient, err)
	}
	resp := &types.QueryKeyEpochsResponse{Epochs: []types.ClassKeyEpoch{}}
	rng := collections.NewPrefixedPairRange[sdk.AccAddress, string](addr)
	// at most one entry per data class: no pagination needed
	err = q.k.KeyEpochs.Walk(ctx, rng, func(key collections.Pair[sdk.AccAddress, string], e uint64) (bool, error) {
		resp.Epochs = append(resp.Epochs, types.ClassKeyEpoch{Patient: req.Patient, DataClass: key.K2(), Epoch: e})
		return false, nil
	})
	if err != nil {
		return nil, grpcError(err)
	}
	return resp, nil
}

// Params returns the module parameters.
func (q queryServer) Params(ctx context.Context, _ *types.QueryParamsRequest) (*types.QueryParamsResponse, error) {
	params, err := q.k.Params.Get(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryParamsResponse{Params: params}, nil
}

// listByStatus pages through an (address, status, id) index, with the status as
// part of the prefix when one is given.
func (q queryServer) listByStatus(ctx context.Context, idx *collidx.Index[uint64, addrStatusKey, types.Consent],
	address string, st types.ConsentStatus, pageReq *query.PageRequest,
) (*types.QueryConsentsResponse, error) {
	addr, err := q.k.addressCodec.StringToBytes(address)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid address %q: %v", address, err)
	}
	if _, known := types.ConsentStatus_name[int32(st)]; !known {
		return nil, status.Errorf(codes.InvalidArgument, "unknown status %d", st)
	}
	prefix := collections.TriplePrefix[sdk.AccAddress, int32, uint64](addr)
	if st != types.CONSENT_STATUS_UNSPECIFIED {
		prefix = collections.TripleSuperPrefix[sdk.AccAddress, int32, uint64](addr, int32(st))
	}
	return page(ctx, q, idx.Keys(), &prefix, pageReq, func(k addrStatusKey) uint64 { return k.K3() })
}

// page pages an index and loads the consents it names, as they stand now.
func page[K any](ctx context.Context, q queryServer, keys collections.KeySet[K], prefix *K, req *query.PageRequest,
	pk func(K) uint64,
) (*types.QueryConsentsResponse, error) {
	now := blockTime(ctx)
	consents, pageRes, err := collidx.Page(ctx, keys, prefix, req, pk, func(id uint64) (types.Consent, error) {
		c, err := q.k.Consents.Get(ctx, id)
		return view(c, now), err
	})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryConsentsResponse{Consents: consents, Pagination: pageRes}, nil
}

// pair decodes a (patient, grantee) pair of addresses, or answers InvalidArgument.
func (q queryServer) pair(patient, grantee string) (sdk.AccAddress, sdk.AccAddress, error) {
	p, err := q.k.addressCodec.StringToBytes(patient)
	if err != nil {
		return nil, nil, status.Errorf(codes.InvalidArgument, "invalid patient address %q: %v", patient, err)
	}
	g, err := q.k.addressCodec.StringToBytes(grantee)
	if err != nil {
		return nil, nil, status.Errorf(codes.InvalidArgument, "invalid grantee address %q: %v", grantee, err)
	}
	return p, g, nil
}

// grpcError maps the module's errors to gRPC status codes.
func grpcError(err error) error {
	switch {
	case errors.Is(err, types.ErrConsentNotFound), errors.Is(err, types.ErrPatientNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, types.ErrInvalidAccessRequest):
		return status.Error(codes.InvalidArgument, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

// Escrow returns a patient's escrow and whether it is stale.
func (q queryServer) Escrow(ctx context.Context, req *types.QueryEscrowRequest) (*types.QueryEscrowResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	addr, err := q.k.addressCodec.StringToBytes(req.Patient)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid address %q: %v", req.Patient, err)
	}
	escrow, err := q.k.Escrows.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "patient %s has no key escrow", req.Patient)
	} else if err != nil {
		return nil, grpcError(err)
	}
	params, err := q.k.Params.Get(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	return &types.QueryEscrowResponse{
		Escrow: escrow, Stale: escrow.SetVersion != params.CustodianSetVersion, CurrentSetVersion: params.CustodianSetVersion,
	}, nil
}

// KeyReleases lists a patient's key releases, of one emergency access or all.
func (q queryServer) KeyReleases(ctx context.Context, req *types.QueryKeyReleasesRequest) (*types.QueryKeyReleasesResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	addr, err := q.k.addressCodec.StringToBytes(req.Patient)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid address %q: %v", req.Patient, err)
	}
	type key = collections.Triple[sdk.AccAddress, uint64, sdk.AccAddress]
	prefix := collections.TriplePrefix[sdk.AccAddress, uint64, sdk.AccAddress](addr)
	if req.AccessId != 0 {
		prefix = collections.TripleSuperPrefix[sdk.AccAddress, uint64, sdk.AccAddress](addr, req.AccessId)
	}
	releases, pageRes, err := query.CollectionPaginate(ctx, q.k.Releases, req.Pagination,
		func(_ key, r types.KeyRelease) (types.KeyRelease, error) { return r, nil },
		func(o *query.CollectionsPaginateOptions[key]) { o.Prefix = &prefix })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryKeyReleasesResponse{Releases: releases, Pagination: pageRes}, nil
}

// LiveEmergencyAccesses lists the active emergency accesses of every patient
// (an ended one stays listed, as active, until EndBlock marks it expired:
// check its period).
func (q queryServer) LiveEmergencyAccesses(ctx context.Context, req *types.QueryLiveEmergencyAccessesRequest) (*types.QueryConsentsResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	return page(ctx, q, q.k.LiveEmergencies, nil, req.Pagination, func(id uint64) uint64 { return id })
}
