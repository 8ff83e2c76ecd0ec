package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	gogoproto "github.com/cosmos/gogoproto/proto"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/client/paging"
	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/vault"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// Imported is one resource of a Bundle committed as a record.
type Imported struct {
	Index        int    `json:"index"`
	ResourceType string `json:"resource_type"`
	DataClass    string `json:"data_class"`
	RecordID     uint64 `json:"record_id"`
}

// ImportBundle makes every resource of the R4 Bundle raw one encrypted record
// of patient (default: the agent), committed in batches of the chain's
// max_batch_size. The Bundle, the write consents and the class keys are all
// checked before anything is uploaded. If a batch fails, the error says so and
// the records committed before it are returned with it. progress, if set, is
// told after each batch.
func (a *Agent) ImportBundle(ctx context.Context, raw []byte, patient, purpose, vaultURL string,
	progress func(committed, total int),
) ([]Imported, error) {
	types, classes, resources, err := fhir.ParseBundle(raw)
	if err != nil {
		return nil, err
	}
	if patient == "" {
		patient = a.addr
	}
	params, err := recordstypes.NewQueryClient(a.clientCtx).Params(ctx, &recordstypes.QueryParamsRequest{})
	if err != nil {
		return nil, err
	}
	// consents and class keys first: a missing one fails before any upload
	keys := map[string][]byte{}
	ctxs := map[string]crypto.KeyContext{}
	for _, c := range classes {
		if _, done := keys[c]; done {
			continue
		}
		if err := a.MayAccess(ctx, patient, c, consenttypes.PermissionWrite, purpose, time.Time{}); err != nil {
			return nil, fmt.Errorf("nothing was imported: %w", err)
		}
		if keys[c], ctxs[c], err = a.ClassKey(ctx, patient, c, 0); err != nil {
			return nil, fmt.Errorf("nothing was imported: class %s: %w", c, err)
		}
	}
	entries := make([]recordstypes.RecordEntry, len(resources))
	for i, r := range resources {
		if entries[i], err = a.Upload(ctx, bytes.NewReader(r), int64(len(r)), classes[i], types[i], patient, vaultURL,
			keys[classes[i]], ctxs[classes[i]]); err != nil {
			return nil, fmt.Errorf("nothing was imported: resource %d (%s): %w", i, types[i], err)
		}
	}
	var done []Imported
	batch := int(params.Params.MaxBatchSize)
	for start := 0; start < len(entries); start += batch {
		end := min(start+batch, len(entries))
		var resp recordstypes.MsgCreateRecordsResponse
		msg := &recordstypes.MsgCreateRecords{Author: a.addr, Patient: patient, Purpose: purpose, Entries: entries[start:end]}
		if err := a.SendOne(ctx, msg, &resp); err != nil {
			return done, fmt.Errorf("resources %d-%d were not committed (the %d before them were): %w", start, len(entries)-1, len(done), err)
		}
		for i, id := range resp.Ids {
			done = append(done, Imported{Index: start + i, ResourceType: types[start+i], DataClass: classes[start+i], RecordID: id})
		}
		if progress != nil {
			progress(len(done), len(entries))
		}
	}
	return done, nil
}

// ReceiptsPerTx is how many access receipts ExportBundle takes per transaction.
const ReceiptsPerTx = 32

// NotRead is a record an export left out, and why.
type NotRead struct {
	RecordID  uint64 `json:"record_id"`
	DataClass string `json:"data_class"`
	Reason    string `json:"reason"`
}

// ExportBundle reads every active record of patient (default: the agent) that
// the agent may read for purpose, taking one access receipt each (in
// transactions of ReceiptsPerTx), and returns them as a collection Bundle.
// Records it may not read are left out, take no receipt, and are listed with
// the reason; so are records that cannot be downloaded or decrypted (their
// receipts are taken). A vault out of reach stops the export. progress, if set, is told after each batch.
func (a *Agent) ExportBundle(ctx context.Context, patient, purpose, vaultURL string, progress func(exported, total int),
) (*fhir.Bundle, []NotRead, error) {
	if patient == "" {
		patient = a.addr
	}
	type readable struct {
		rec  recordstypes.Record
		key  []byte
		kctx crypto.KeyContext
	}
	var todo []readable
	notReadable := []NotRead{}
	type classEpoch struct {
		class string
		epoch uint64
	}
	keys := map[classEpoch]readable{}
	keyErrs := map[classEpoch]error{}
	rq := recordstypes.NewQueryClient(a.clientCtx)
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := rq.RecordsByPatient(ctx, &recordstypes.QueryRecordsByPatientRequest{
			Patient: patient, Status: recordstypes.RECORD_STATUS_ACTIVE, Pagination: &query.PageRequest{Key: key},
		})
		if err != nil {
			return nil, false, err
		}
		for _, rec := range resp.Records {
			if err := a.MayRead(ctx, rec, purpose); err != nil {
				if !errors.Is(err, ErrAccessRefused) {
					return nil, false, err
				}
				notReadable = append(notReadable, NotRead{rec.Id, rec.DataClass, err.Error()})
				continue
			}
			ce := classEpoch{rec.DataClass, rec.KeyEpoch}
			if _, seen := keys[ce]; !seen && keyErrs[ce] == nil {
				k, kctx, err := a.ClassKey(ctx, patient, ce.class, ce.epoch)
				if err != nil {
					keyErrs[ce] = err
				} else {
					keys[ce] = readable{key: k, kctx: kctx}
				}
			}
			if err := keyErrs[ce]; err != nil {
				notReadable = append(notReadable, NotRead{rec.Id, rec.DataClass, err.Error()})
				continue
			}
			todo = append(todo, readable{rec: rec, key: keys[ce].key, kctx: keys[ce].kctx})
		}
		return resp.Pagination, false, nil
	})
	if err != nil {
		return nil, nil, err
	}

	b := &fhir.Bundle{ResourceType: "Bundle", Type: "collection", Entry: []fhir.BundleEntry{}}
	for start := 0; start < len(todo); start += ReceiptsPerTx {
		batch := todo[start:min(start+ReceiptsPerTx, len(todo))]
		msgs := make([]sdk.Msg, len(batch))
		resps := make([]gogoproto.Message, len(batch))
		for i, r := range batch {
			msgs[i] = &recordstypes.MsgAccessRecord{Accessor: a.addr, RecordId: r.rec.Id, Purpose: purpose}
			resps[i] = &recordstypes.MsgAccessRecordResponse{}
		}
		if err := a.Send(ctx, msgs, resps); err != nil {
			return nil, nil, fmt.Errorf("taking the receipts for records %d to %d: %w", batch[0].rec.Id, batch[len(batch)-1].rec.Id, err)
		}
		for _, r := range batch {
			var buf bytes.Buffer
			if _, err := a.Decrypt(ctx, r.rec, vaultURL, r.key, r.kctx, &buf); err != nil {
				// A vault out of reach (or a cancelled export) stops everything:
				// the next record would fail the same way. A record that does
				// not open (refused or missing blob, corrupt ciphertext, a key
				// envelope that is not the class key's) is left out and listed:
				// one bad record must not cost the patient the rest.
				if errors.Is(err, vault.ErrUnreachable) || ctx.Err() != nil {
					return nil, nil, fmt.Errorf("record %d: %w", r.rec.Id, err)
				}
				notReadable = append(notReadable, NotRead{r.rec.Id, r.rec.DataClass, "could not be opened: " + err.Error()})
				continue
			}
			if !json.Valid(buf.Bytes()) {
				notReadable = append(notReadable, NotRead{r.rec.Id, r.rec.DataClass, fmt.Sprintf(
					"not a JSON FHIR resource (%s): use `healthd records get` for it", r.rec.FhirResourceType)})
				continue
			}
			b.Entry = append(b.Entry, fhir.BundleEntry{Resource: json.RawMessage(buf.Bytes())})
		}
		if progress != nil {
			progress(start+len(batch), len(todo))
		}
	}
	b.Timestamp = time.Now().UTC().Format(time.RFC3339)
	return b, notReadable, nil
}
