package vault

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cosmos/cosmos-sdk/client/grpc/cmtservice"
	"github.com/cosmos/cosmos-sdk/codec"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/client/paging"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// GRPCChain answers the vault's questions with a node's gRPC queries.
type GRPCChain struct {
	conn      *grpc.ClientConn
	node      cmtservice.ServiceClient
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
		conn: conn, node: cmtservice.NewServiceClient(conn), consent: consenttypes.NewQueryClient(conn), providers: providerstypes.NewQueryClient(conn),
		records: recordstypes.NewQueryClient(conn), now: time.Now,
	}, nil
}

// Close closes the connection.
func (c *GRPCChain) Close() error { return c.conn.Close() }

// MayUpload implements Chain: a registered patient, or an active provider.
func (c *GRPCChain) MayUpload(ctx context.Context, addr string) (bool, error) {
	patient, provider, err := c.account(ctx, addr)
	return patient || provider != nil && provider.IsActive, err
}

// Known implements Chain: a registered patient, or a provider of any status.
func (c *GRPCChain) Known(ctx context.Context, addr string) (bool, error) {
	patient, provider, err := c.account(ctx, addr)
	return patient || provider != nil, err
}

// account says whether addr is a registered patient and, if it is not, its
// registry entry as a provider (nil if none).
func (c *GRPCChain) account(ctx context.Context, addr string) (bool, *providerstypes.QueryProviderResponse, error) {
	if _, err := c.consent.Patient(ctx, &consenttypes.QueryPatientRequest{Address: addr}); err == nil {
		return true, nil, nil
	} else if status.Code(err) != codes.NotFound {
		return false, nil, err
	}
	resp, err := c.providers.Provider(ctx, &providerstypes.QueryProviderRequest{Address: addr})
	if status.Code(err) == codes.NotFound {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	return false, resp, nil
}

var _ Chain = (*GRPCChain)(nil)

// Status implements Chain: the node's chain id, latest block and whether it is
// still catching up.
func (c *GRPCChain) Status(ctx context.Context) (ChainStatus, error) {
	syncing, err := c.node.GetSyncing(ctx, &cmtservice.GetSyncingRequest{})
	if err != nil {
		return ChainStatus{}, err
	}
	latest, err := c.node.GetLatestBlock(ctx, &cmtservice.GetLatestBlockRequest{})
	if err != nil {
		return ChainStatus{}, err
	}
	if latest.SdkBlock == nil {
		return ChainStatus{}, errors.New("the node returned no latest block")
	}
	h := latest.SdkBlock.Header
	return ChainStatus{ChainID: h.ChainID, Height: h.Height, BlockTime: h.Time, CatchingUp: syncing.Syncing}, nil
}

// uploaderRecord returns the record with content hash h if uploader authored
// it, else nil. The chain commits a hash at most once, so there is one record
// at most; one that someone else committed (a front-run of an upload not yet
// committed, say) does not speak for the blob, even when the uploader is that
// record's patient.
func (c *GRPCChain) uploaderRecord(ctx context.Context, h Hash, uploader string) (*recordstypes.Record, error) {
	resp, err := c.records.RecordByHash(ctx, &recordstypes.QueryRecordByHashRequest{ContentHash: hex.EncodeToString(h[:])})
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if resp.Record.Author != uploader {
		return nil, nil
	}
	return &resp.Record, nil
}

// ReadAccess implements Chain: a receipt of addr, newer than maxAge, for the
// non-erased record with hash h that uploader committed, AND the chain's access
// rule still allows addr to read that record for the receipt's purpose now: a
// receipt taken before a revocation, a suspension or the end of a consent opens
// nothing afterwards. Receipts are read newest first, and the search stops at
// the first one older than maxAge.
func (c *GRPCChain) ReadAccess(ctx context.Context, addr string, h Hash, uploader string, maxAge time.Duration) (bool, bool, error) {
	r, err := c.uploaderRecord(ctx, h, uploader)
	if err != nil || r == nil {
		return false, false, err
	}
	if r.Status == recordstypes.RECORD_STATUS_ERASED {
		return false, true, nil
	}
	if r.Patient == addr { // the patient's own read takes no receipt, if the chain says she reads it as its patient
		d, err := c.consent.CheckAccess(ctx, &consenttypes.QueryCheckAccessRequest{
			Patient: r.Patient, Grantee: addr, DataClass: r.DataClass, Permission: consenttypes.PermissionRead,
			Purpose: consenttypes.PurposePatientRequest, AuthoredAt: r.CreatedAt, Author: r.Author,
		})
		if err != nil {
			return false, false, err
		}
		if d.Allowed && d.Reason == consenttypes.ACCESS_REASON_PATIENT {
			return true, false, nil
		}
	}
	receipt, err := c.freshReceipt(ctx, r.Id, addr, c.now().Add(-maxAge))
	if err != nil || receipt == nil {
		return false, false, err
	}
	d, err := c.consent.CheckAccess(ctx, &consenttypes.QueryCheckAccessRequest{
		Patient: r.Patient, Grantee: addr, DataClass: r.DataClass, Permission: consenttypes.PermissionRead,
		Purpose: receipt.Purpose, AuthoredAt: r.CreatedAt, Author: r.Author,
	})
	if err != nil {
		return false, false, err
	}
	return d.Allowed, false, nil
}

// freshReceipt reads a record's receipts newest first until one is older than
// oldest, looking for addr's; nil if there is none.
func (c *GRPCChain) freshReceipt(ctx context.Context, recordID uint64, addr string, oldest time.Time) (*recordstypes.AccessReceipt, error) {
	var found *recordstypes.AccessReceipt
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := c.records.ReceiptsByRecord(ctx, &recordstypes.QueryReceiptsByRecordRequest{
			RecordId: recordID, Pagination: &query.PageRequest{Key: key, Limit: 100, Reverse: true},
		})
		if err != nil {
			return nil, false, err
		}
		for _, rc := range resp.Receipts {
			if rc.Time.Before(oldest) {
				return nil, true, nil
			}
			if rc.Accessor == addr {
				found = &rc
				return nil, true, nil
			}
		}
		return resp.Pagination, false, nil
	})
	return found, err
}

// OwnAccess implements Chain with one ReadDecisions query per MaxQueryIDs
// records: allowed only where the chain allows addr the read as the record's
// patient.
func (c *GRPCChain) OwnAccess(ctx context.Context, addr string, ids []uint64) ([]ReceiptAccess, error) {
	out := make([]ReceiptAccess, 0, len(ids))
	for start := 0; start < len(ids); start += recordstypes.MaxQueryIDs {
		chunk := ids[start:min(start+recordstypes.MaxQueryIDs, len(ids))]
		resp, err := c.records.ReadDecisions(ctx, &recordstypes.QueryReadDecisionsRequest{Accessor: addr, Purpose: consenttypes.PurposePatientRequest, RecordIds: chunk})
		if err != nil {
			return nil, err
		}
		if len(resp.Decisions) != len(chunk) {
			return nil, fmt.Errorf("the chain decided %d reads of %d", len(resp.Decisions), len(chunk))
		}
		for i, d := range resp.Decisions {
			var ra ReceiptAccess
			switch {
			case d.RecordId != chunk[i]:
				return nil, fmt.Errorf("the chain decided record %d for record %d", d.RecordId, chunk[i])
			case d.Erased:
				ra.Erased = true
			case d.Allowed && d.Reason == consenttypes.ACCESS_REASON_PATIENT:
				if len(d.ContentHash) != len(ra.Hash) {
					return nil, errors.New("the chain returned a record without a SHA-256 content hash")
				}
				copy(ra.Hash[:], d.ContentHash)
				ra.Author, ra.Allowed = d.Author, true
			}
			out = append(out, ra)
		}
	}
	return out, nil
}

// BlobStatus implements Chain.
func (c *GRPCChain) BlobStatus(ctx context.Context, h Hash, uploader string) (bool, bool, error) {
	r, err := c.uploaderRecord(ctx, h, uploader)
	if err != nil || r == nil {
		return false, false, err
	}
	return true, r.Status == recordstypes.RECORD_STATUS_ERASED, nil
}

// ReceiptAccess implements Chain with one ReceiptReads query per
// MaxQueryIDs receipts; the receipt's age is judged by this vault's clock.
func (c *GRPCChain) ReceiptAccess(ctx context.Context, addr string, ids []uint64, maxAge time.Duration) ([]ReceiptAccess, error) {
	out := make([]ReceiptAccess, 0, len(ids))
	oldest := c.now().Add(-maxAge)
	for start := 0; start < len(ids); start += recordstypes.MaxQueryIDs {
		chunk := ids[start:min(start+recordstypes.MaxQueryIDs, len(ids))]
		resp, err := c.records.ReceiptReads(ctx, &recordstypes.QueryReceiptReadsRequest{Accessor: addr, ReceiptIds: chunk})
		if err != nil {
			return nil, err
		}
		if len(resp.Reads) != len(chunk) {
			return nil, fmt.Errorf("the chain answered %d receipts of %d", len(resp.Reads), len(chunk))
		}
		for _, rr := range resp.Reads {
			var ra ReceiptAccess
			if rr.Found && !rr.Time.Before(oldest) {
				if len(rr.ContentHash) != len(ra.Hash) {
					return nil, errors.New("the chain returned a record without a SHA-256 content hash")
				}
				copy(ra.Hash[:], rr.ContentHash)
				ra.Author, ra.Erased, ra.Allowed = rr.Author, rr.Erased, rr.Allowed && !rr.Erased
			}
			out = append(out, ra)
		}
	}
	return out, nil
}
