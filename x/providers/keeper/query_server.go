package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/x/providers/types"
)

// queryServer holds the keeper as a named field: its Providers and Params methods
// would otherwise hide the keeper's collections of the same names.
type queryServer struct {
	k Keeper
}

var _ types.QueryServer = queryServer{}

// NewQueryServerImpl returns the Query service of the registry.
func NewQueryServerImpl(k Keeper) types.QueryServer { return queryServer{k: k} }

// Provider returns one provider and whether it is active at the query height.
func (q queryServer) Provider(ctx context.Context, req *types.QueryProviderRequest) (*types.QueryProviderResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	addr, err := q.k.addressCodec.StringToBytes(req.Address)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid address %q: %v", req.Address, err)
	}
	p, err := q.k.Providers.Get(ctx, addr)
	if err != nil {
		if errors.Is(err, collections.ErrNotFound) {
			return nil, status.Errorf(codes.NotFound, "provider %s not found", req.Address)
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp := q.entry(ctx, p)
	return &resp, nil
}

// Providers lists providers in address order, reading the index that matches the
// filters: (status, kind), status, kind, or the registry itself.
func (q queryServer) Providers(ctx context.Context, req *types.QueryProvidersRequest) (*types.QueryProvidersResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "empty request")
	}
	if req.Status != types.PROVIDER_STATUS_UNSPECIFIED {
		if err := types.ValidateStatus(req.Status); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	if req.Kind != types.PROVIDER_KIND_UNSPECIFIED {
		if err := types.ValidateKind(req.Kind); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}

	var (
		addrs   []sdk.AccAddress
		pageRes *query.PageResponse
		err     error
	)
	byPrimary := func(k collections.Pair[int32, sdk.AccAddress], _ collections.NoValue) (sdk.AccAddress, error) {
		return k.K2(), nil
	}
	switch st, kind := int32(req.Status), int32(req.Kind); {
	case st != 0 && kind != 0:
		addrs, pageRes, err = query.CollectionPaginate(ctx, q.k.Providers.Indexes.StatusKind.Keys(), req.Pagination,
			func(k collections.Pair[collections.Pair[int32, int32], sdk.AccAddress], _ collections.NoValue) (sdk.AccAddress, error) {
				return k.K2(), nil
			},
			query.WithCollectionPaginationPairPrefix[collections.Pair[int32, int32], sdk.AccAddress](collections.Join(st, kind)))
	case st != 0:
		addrs, pageRes, err = query.CollectionPaginate(ctx, q.k.Providers.Indexes.Status.Keys(), req.Pagination, byPrimary,
			query.WithCollectionPaginationPairPrefix[int32, sdk.AccAddress](st))
	case kind != 0:
		addrs, pageRes, err = query.CollectionPaginate(ctx, q.k.Providers.Indexes.Kind.Keys(), req.Pagination, byPrimary,
			query.WithCollectionPaginationPairPrefix[int32, sdk.AccAddress](kind))
	default:
		var entries []types.QueryProviderResponse
		entries, pageRes, err = query.CollectionPaginate(ctx, q.k.Providers, req.Pagination,
			func(_ sdk.AccAddress, p types.Provider) (types.QueryProviderResponse, error) {
				return q.entry(ctx, p), nil
			})
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return &types.QueryProvidersResponse{Providers: entries, Pagination: pageRes}, nil
	}
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	entries := make([]types.QueryProviderResponse, 0, len(addrs))
	for _, a := range addrs {
		p, err := q.k.Providers.Get(ctx, a)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		entries = append(entries, q.entry(ctx, p))
	}
	return &types.QueryProvidersResponse{Providers: entries, Pagination: pageRes}, nil
}

// Params returns the module parameters.
func (q queryServer) Params(ctx context.Context, _ *types.QueryParamsRequest) (*types.QueryParamsResponse, error) {
	params, err := q.k.Params.Get(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryParamsResponse{Params: params}, nil
}

func (q queryServer) entry(ctx context.Context, p types.Provider) types.QueryProviderResponse {
	return types.QueryProviderResponse{Provider: p, IsActive: isActiveAt(p, sdk.UnwrapSDKContext(ctx).BlockTime())}
}
