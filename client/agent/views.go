package agent

import (
	"context"
	"time"

	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/client/paging"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// What the agent reads for the pages and commands that show the chain's
// state: each a query (no transaction), as the chain answers it.

// Patient returns addr's patient profile (a gRPC NotFound if addr is not a
// registered patient).
func (a *Agent) Patient(ctx context.Context, addr string) (consenttypes.PatientProfile, error) {
	resp, err := consenttypes.NewQueryClient(a.clientCtx).Patient(ctx, &consenttypes.QueryPatientRequest{Address: addr})
	if err != nil {
		return consenttypes.PatientProfile{}, err
	}
	return resp.Patient, nil
}

// Provider returns addr's registry entry and whether the chain calls it
// active now (a gRPC NotFound if addr is not a provider).
func (a *Agent) Provider(ctx context.Context, addr string) (*providerstypes.QueryProviderResponse, error) {
	return providerstypes.NewQueryClient(a.clientCtx).Provider(ctx, &providerstypes.QueryProviderRequest{Address: addr})
}

// ConsentParams returns x/consent's parameters.
func (a *Agent) ConsentParams(ctx context.Context) (consenttypes.Params, error) {
	resp, err := consenttypes.NewQueryClient(a.clientCtx).Params(ctx, &consenttypes.QueryParamsRequest{})
	if err != nil {
		return consenttypes.Params{}, err
	}
	return resp.Params, nil
}

// Consent returns consent id.
func (a *Agent) Consent(ctx context.Context, id uint64) (consenttypes.Consent, error) {
	resp, err := consenttypes.NewQueryClient(a.clientCtx).Consent(ctx, &consenttypes.QueryConsentRequest{Id: id})
	if err != nil {
		return consenttypes.Consent{}, err
	}
	return resp.Consent, nil
}

// newestFirst is the page request of the lists shown newest first.
var newestFirst = query.PageRequest{Limit: 100, Reverse: true}

// RecordsOf lists patient's records of every status, newest first, stopping
// after limit (0: all of them, in pages of 1,000).
func (a *Agent) RecordsOf(ctx context.Context, patient string, limit int) ([]recordstypes.Record, error) {
	rq := recordstypes.NewQueryClient(a.clientCtx)
	page := newestFirst
	if limit == 0 {
		page.Limit = 1000
	}
	return paging.Collect(limit, page, func(req *query.PageRequest) ([]recordstypes.Record, *query.PageResponse, error) {
		resp, err := rq.RecordsByPatient(ctx, &recordstypes.QueryRecordsByPatientRequest{Patient: patient, Pagination: req})
		if err != nil {
			return nil, nil, err
		}
		return resp.Records, resp.Pagination, nil
	})
}

// FreshReceipts returns the agent's own access receipts on patient's
// records taken since since, newest first (it reads the patient's receipts
// newest first and stops at the first older one).
func (a *Agent) FreshReceipts(ctx context.Context, patient string, since time.Time) ([]recordstypes.AccessReceipt, error) {
	rq := recordstypes.NewQueryClient(a.clientCtx)
	var out []recordstypes.AccessReceipt
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		req := newestFirst
		req.Key = key
		resp, err := rq.ReceiptsByPatient(ctx, &recordstypes.QueryReceiptsByPatientRequest{Patient: patient, Pagination: &req})
		if err != nil {
			return nil, false, err
		}
		for _, r := range resp.Receipts {
			if r.Time.Before(since) {
				return nil, true, nil
			}
			if r.Accessor == a.addr {
				out = append(out, r)
			}
		}
		return resp.Pagination, false, nil
	})
	return out, err
}

// ReceiptsOf lists the access receipts of patient's records (the accounting
// of disclosures), newest first, stopping after limit.
func (a *Agent) ReceiptsOf(ctx context.Context, patient string, limit int) ([]recordstypes.AccessReceipt, error) {
	rq := recordstypes.NewQueryClient(a.clientCtx)
	return paging.Collect(limit, newestFirst, func(req *query.PageRequest) ([]recordstypes.AccessReceipt, *query.PageResponse, error) {
		resp, err := rq.ReceiptsByPatient(ctx, &recordstypes.QueryReceiptsByPatientRequest{Patient: patient, Pagination: req})
		if err != nil {
			return nil, nil, err
		}
		return resp.Receipts, resp.Pagination, nil
	})
}
