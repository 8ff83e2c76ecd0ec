package vault

import (
	"context"
	"encoding/hex"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cosmos/cosmos-sdk/codec"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// GRPCChain answers the vault's questions with a node's gRPC queries.
type GRPCChain struct {
	conn      *grpc.ClientConn
	consent   consenttypes.QueryClient
	providers providerstypes.QueryClient
	records   recordstypes.QueryClient
	now       func() time.Time
}

// DialChain connects to a node's gRPC endpoint (host:port, plaintext: run the
// vault beside its node, on loopback or a private network).
func DialChain(addr string) (*GRPCChain, error) {
	cdc := codec.NewProtoCodec(codectypes.NewInterfaceRegistry())
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(cdc.GRPCCodec())))
	if err != nil {
		return nil, err
	}
	return &GRPCChain{
		conn: conn, consent: consenttypes.NewQueryClient(conn), providers: providerstypes.NewQueryClient(conn),
		records: recordstypes.NewQueryClient(conn), now: time.Now,
	}, nil
}

// Close closes the connection.
func (c *GRPCChain) Close() error { return c.conn.Close() }

// MayUpload implements Chain: a registered patient, or an active provider.
func (c *GRPCChain) MayUpload(ctx context.Context, addr string) (bool, error) {
	if _, err := c.consent.Patient(ctx, &consenttypes.QueryPatientRequest{Address: addr}); err == nil {
		return true, nil
	} else if status.Code(err) != codes.NotFound {
		return false, err
	}
	resp, err := c.providers.Provider(ctx, &providerstypes.QueryProviderRequest{Address: addr})
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return resp.IsActive, nil
}

// recordsByHash returns the records committing to h (none: not committed).
func (c *GRPCChain) recordsByHash(ctx context.Context, h Hash) ([]recordstypes.Record, error) {
	resp, err := c.records.RecordByHash(ctx, &recordstypes.QueryRecordByHashRequest{ContentHash: hex.EncodeToString(h[:])})
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return resp.Records, nil
}

// ReadAccess implements Chain: a receipt of addr, newer than maxAge, for a
// non-erased record with hash h. Receipts are read newest first, and the search
// stops at the first one older than maxAge.
func (c *GRPCChain) ReadAccess(ctx context.Context, addr string, h Hash, maxAge time.Duration) (bool, bool, error) {
	records, err := c.recordsByHash(ctx, h)
	if err != nil || len(records) == 0 {
		return false, false, err
	}
	oldest := c.now().Add(-maxAge)
	live := 0
	for _, r := range records {
		if r.Status == recordstypes.RECORD_STATUS_ERASED {
			continue
		}
		live++
		ok, err := c.hasFreshReceipt(ctx, r.Id, addr, oldest)
		if err != nil || ok {
			return ok, false, err
		}
	}
	return false, live == 0, nil
}

// hasFreshReceipt reads a record's receipts newest first until one is older than
// oldest, looking for addr's.
func (c *GRPCChain) hasFreshReceipt(ctx context.Context, recordID uint64, addr string, oldest time.Time) (bool, error) {
	var next []byte
	for {
		resp, err := c.records.ReceiptsByRecord(ctx, &recordstypes.QueryReceiptsByRecordRequest{
			RecordId: recordID, Pagination: &query.PageRequest{Key: next, Limit: 100, Reverse: true},
		})
		if err != nil {
			return false, err
		}
		for _, rc := range resp.Receipts {
			if rc.Time.Before(oldest) {
				return false, nil
			}
			if rc.Accessor == addr {
				return true, nil
			}
		}
		if resp.Pagination == nil || len(resp.Pagination.NextKey) == 0 {
			return false, nil
		}
		next = resp.Pagination.NextKey
	}
}

// BlobStatus implements Chain.
func (c *GRPCChain) BlobStatus(ctx context.Context, h Hash) (bool, bool, error) {
	records, err := c.recordsByHash(ctx, h)
	if err != nil || len(records) == 0 {
		return false, false, err
	}
	for _, r := range records {
		if r.Status != recordstypes.RECORD_STATUS_ERASED {
			return true, false, nil
		}
	}
	return true, true, nil
}
