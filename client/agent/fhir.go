package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
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
	// AlreadyFiled marks a resource filed before (an earlier run of the same
	// import, a retried request): RecordID is that record, and nothing was
	// uploaded or committed for it now.
	AlreadyFiled bool `json:"already_filed,omitempty"`
}

// Bulk transfer tuning: how many vault requests or chain queries run at
// once, and the largest resource sent inside a batch upload (larger ones
// stream one by one).
const (
	bulkParallel  = 4
	inlineMaxSize = 1 << 20
)

// Progress is told how far a bulk step got: step is "uploading",
// "committing", "receipts" or "downloading".
type Progress func(step string, done, total int)

// ImportBundle makes every resource of the parsed R4 Bundle b one encrypted record
// of patient (default: the agent). The Bundle, the write consents and the
// class keys are all checked before anything is uploaded. References to the
// Bundle's own Patient become the organization-neutral reference to patient
// (fhir.Parsed.NeutralizePatient). Resources are encrypted and uploaded in
// batches of the chain's max_batch_size, several at once; each batch is
// committed by one transaction as soon as it is uploaded, sent without
// waiting for blocks (a Sender) and confirmed from the node's block events.
// If an upload or a transaction fails, the error says which resources were
// not committed, and the committed ones are returned with it ("nothing was
// imported" when none was).
//
// Import is idempotent: each resource is sealed under keys derived from the
// agent's filing secret, the resource itself and b.FilingScope
// (crypto.SourceKeys), so a resource this account filed for this patient
// before, in the same scope, has a content hash on chain; it is returned as
// AlreadyFiled and not filed again. Running an interrupted import again files
// exactly what is missing.
func (a *Agent) ImportBundle(ctx context.Context, b *fhir.Parsed, patient, purpose, vaultURL string, progress Progress,
) ([]Imported, error) {
	if patient == "" {
		patient = a.addr
	}
	if err := b.NeutralizePatient(patient); err != nil {
		return nil, fmt.Errorf("nothing was imported: %w", err)
	}
	f := newFiling(patient, b.FilingScope, b.Resources, b.Types, b.Classes)
	types, classes, resources := f.types, f.classes, f.resources
	if progress == nil {
		progress = func(string, int, int) {}
	}
	host, maxBatch, err := a.uploadTarget(ctx, vaultURL)
	if err != nil {
		return nil, err
	}
	// consents and class keys first: a missing one fails before any upload
	if err := a.filingKeys(ctx, f, purpose); err != nil {
		return nil, fmt.Errorf("nothing was imported: %w", err)
	}
	if err := a.settle(ctx); err != nil {
		return nil, fmt.Errorf("nothing was imported: %w", err)
	}

	// Upload batches of encrypted resources, bulkParallel at a time; each
	// batch is one transaction, sent as soon as it and every batch before it
	// are uploaded (so commits overlap uploads, and record ids keep the
	// Bundle's order). A batch filed entirely before sends nothing.
	chunks := uploadChunks(resources, maxBatch)
	upCtx, stopUploads := context.WithCancel(ctx)
	defer stopUploads()
	ready := make([]chan error, len(chunks))
	for k := range ready {
		ready[k] = make(chan error, 1)
	}
	uploaded := 0
	var mu sync.Mutex
	go func() {
		_ = parallel(upCtx, len(chunks), bulkParallel, func(ctx context.Context, k int) error {
			err := a.uploadChunk(ctx, f, chunks[k], vaultURL, host)
			if err == nil {
				mu.Lock()
				uploaded += chunks[k][1] - chunks[k][0]
				progress("uploading", uploaded, len(resources))
				mu.Unlock()
			}
			ready[k] <- err
			return nil // a failed chunk stops the sending loop, which cancels the rest
		})
	}()
	// the Sender (the agent's turn to send) is taken once the first batch is
	// uploaded, so other transactions of the key go on while it uploads
	var sender *Sender
	defer func() {
		if sender != nil {
			sender.Close()
		}
	}()
	type sent struct {
		chunk int
		idx   []int // the resources its transaction commits
		resp  []gogoproto.Message
	}
	var txs []sent
	var uploadErr error
	var baseGas uint64
	baseSize := 0
	var done []Imported
	stopAt := len(chunks) // the first chunk not uploaded
	for k, c := range chunks {
		// a chunk skipped because the context ended never reports: wait for
		// the end too, or a cancelled import would block here
		select {
		case uploadErr = <-ready[k]:
		case <-upCtx.Done():
			uploadErr = context.Cause(upCtx)
		}
		if uploadErr != nil {
			stopUploads()
			stopAt = k
			break
		}
		idx, entries := f.fresh(c)
		for i := c[0]; i < c[1]; i++ {
			if r := f.filed[i]; r != nil {
				done = append(done, Imported{Index: i, ResourceType: types[i], DataClass: classes[i], RecordID: r.Id, AlreadyFiled: true})
			}
		}
		if len(idx) == 0 {
			continue
		}
		if sender == nil {
			if sender, err = a.NewSender(ctx); err != nil {
				return nil, fmt.Errorf("nothing was imported: %w", err)
			}
		}
		msgs := []sdk.Msg{&recordstypes.MsgCreateRecords{Author: a.addr, Patient: patient, Purpose: purpose, Entries: entries}}
		// Gas: the first batch is simulated; a later one gets that estimate,
		// scaled up by its size if it is larger (its cost is the same per
		// entry plus per byte), so no batch is simulated twice on the node.
		var gas uint64
		if sender.Simulates() {
			size := msgsSize(msgs)
			if baseGas == 0 {
				if baseGas, err = sender.Estimate(msgs); err != nil {
					return nil, fmt.Errorf("nothing was imported: %w", err)
				}
				baseSize = size
			}
			gas = max(baseGas, baseGas*uint64(size)/uint64(baseSize))
		}
		txs = append(txs, sent{chunk: k, idx: idx, resp: []gogoproto.Message{&recordstypes.MsgCreateRecordsResponse{}}})
		sender.Send(ctx, msgs, txs[len(txs)-1].resp, gas)
	}
	var errs []error
	if sender != nil {
		committed := 0
		errs = sender.Wait(ctx, func(k int) {
			committed += len(txs[k].idx)
			progress("committing", committed, len(resources))
		})
	}
	var failed []string
	var firstErr error
	before := len(done)
	for k, t := range txs {
		if k >= len(errs) || errs[k] != nil {
			failed = append(failed, indexRanges(t.idx))
			if firstErr == nil && k < len(errs) {
				firstErr = errs[k]
			}
			continue
		}
		for j, id := range t.resp[0].(*recordstypes.MsgCreateRecordsResponse).Ids {
			i := t.idx[j]
			done = append(done, Imported{Index: i, ResourceType: types[i], DataClass: classes[i], RecordID: id})
		}
	}
	slices.SortFunc(done, func(x, y Imported) int { return x.Index - y.Index })
	if firstErr == nil {
		firstErr = uploadErr
	}
	switch {
	case firstErr == nil:
		return done, nil
	case len(done) == 0:
		return nil, fmt.Errorf("nothing was imported (uploads without a record are deleted after the vault's TTL): %w", firstErr)
	}
	if stopAt < len(chunks) {
		failed = append(failed, fmt.Sprintf("%d-%d", chunks[stopAt][0], len(resources)-1))
	}
	return done, fmt.Errorf("resources %s were not committed (%d others are, %d of them filed before this run): %w",
		strings.Join(failed, ", "), len(done), before, firstErr)
}

// indexRanges writes sorted indexes as ranges: "3-5, 9".
func indexRanges(idx []int) string {
	var out []string
	for k := 0; k < len(idx); {
		j := k
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == k {
			out = append(out, fmt.Sprint(idx[k]))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", idx[k], idx[j]))
		}
		k = j + 1
	}
	return strings.Join(out, ", ")
}

// filingKeys checks the agent's write consent for every class of f (unless it
// is the patient) and gets each class's current key.
func (a *Agent) filingKeys(ctx context.Context, f *filing, purpose string) error {
	for _, c := range f.classes {
		if _, done := f.keys[c]; done {
			continue
		}
		if err := consenttypes.ValidateDataClass(c); err != nil {
			return err
		}
		if f.patient != a.addr {
			if err := a.MayAccess(ctx, f.patient, c, consenttypes.PermissionWrite, purpose, time.Time{}); err != nil {
				return err
			}
		}
		var err error
		if f.keys[c], f.ctxs[c], err = a.ClassKey(ctx, f.patient, c, 0); err != nil {
			return fmt.Errorf("class %s: %w", c, err)
		}
	}
	return nil
}

// uploadTarget is the vault host of vaultURL (the one records name) and the
// chain's max_batch_size.
func (a *Agent) uploadTarget(ctx context.Context, vaultURL string) (string, int, error) {
	host, err := vaultHost(vaultURL)
	if err != nil {
		return "", 0, err
	}
	params, err := recordstypes.NewQueryClient(a.clientCtx).Params(ctx, &recordstypes.QueryParamsRequest{})
	if err != nil {
		return "", 0, err
	}
	return host, int(params.Params.MaxBatchSize), nil
}

// uploadChunks splits resources into [start, end) ranges of at most batch
// resources (the chain's max_batch_size, and at most vault.MaxBatchItems)
// and about a quarter of vault.MaxBatchBytes.
func uploadChunks(resources []json.RawMessage, batch int) [][2]int {
	items, bytes := min(batch, vault.MaxBatchItems), vault.MaxBatchBytes/4
	var out [][2]int
	start, size := 0, 0
	for i, r := range resources {
		if i > start && (i-start == items || size+len(r) > bytes) {
			out = append(out, [2]int{start, i})
			start, size = i, 0
		}
		size += len(r)
	}
	return append(out, [2]int{start, len(resources)})
}

// parallel runs fn(0) … fn(n-1), workers at a time; the first error cancels
// the others and is returned.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					continue
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// ReceiptsPerTx is how many access receipts ExportBundle takes per transaction.
const ReceiptsPerTx = 100

// NotRead is a record an export left out, and why.
type NotRead struct {
	RecordID  uint64 `json:"record_id"`
	DataClass string `json:"data_class"`
	Reason    string `json:"reason"`
}

// ExportBundle reads every active record of patient (default: the agent) that
// the agent may read for purpose, taking one access receipt each (in
// transactions of ReceiptsPerTx, sent back to back), and returns them as a
// collection Bundle, in record order. As each receipt transaction commits,
// its records are downloaded in one batch request naming the receipts, and
// decrypted. Records it may not read are left out, take no receipt, and are
// listed with the reason; so are records that cannot be downloaded or
// decrypted (their receipts are taken). A vault out of reach stops the
// export.
func (a *Agent) ExportBundle(ctx context.Context, patient, purpose, vaultURL string, progress Progress,
) (*fhir.Bundle, []NotRead, error) {
	if patient == "" {
		patient = a.addr
	}
	if progress == nil {
		progress = func(string, int, int) {}
	}
	rq := recordstypes.NewQueryClient(a.clientCtx)
	recs, err := paging.Collect(0, query.PageRequest{}, func(req *query.PageRequest) ([]recordstypes.Record, *query.PageResponse, error) {
		resp, err := rq.RecordsByPatient(ctx, &recordstypes.QueryRecordsByPatientRequest{
			Patient: patient, Status: recordstypes.RECORD_STATUS_ACTIVE, Pagination: req,
		})
		if err != nil {
			return nil, nil, err
		}
		return resp.Records, resp.Pagination, nil
	})
	if err != nil {
		return nil, nil, err
	}
	opened, err := a.ReadAll(ctx, recs, purpose, vaultURL, progress)
	if err != nil {
		return nil, nil, err
	}
	b, notRead := BundleOf(opened)
	return b, notRead, nil
}

// BundleOf is a collection Bundle of the opened records that are JSON FHIR
// resources, and the reasons the others are not in it.
func BundleOf(opened []Opened) (*fhir.Bundle, []NotRead) {
	b := &fhir.Bundle{ResourceType: "Bundle", Type: "collection", Entry: []fhir.BundleEntry{}}
	notRead := []NotRead{}
	for _, o := range opened {
		switch {
		case o.Err != nil:
			notRead = append(notRead, NotRead{o.Record.Id, o.Record.DataClass, o.Err.Error()})
		case !json.Valid(o.Plain):
			notRead = append(notRead, NotRead{o.Record.Id, o.Record.DataClass, fmt.Sprintf(
				"not a JSON FHIR resource (%s): use `healthd records get` for it", o.Record.FhirResourceType)})
		default:
			b.Entry = append(b.Entry, fhir.BundleEntry{Resource: json.RawMessage(o.Plain)})
		}
	}
	b.Timestamp = time.Now().UTC().Format(time.RFC3339)
	return b, notRead
}

// Opened is one record ReadAll read: its plaintext and the receipt taken, or
// why it was not read. Err is an *AccessDenied or wraps ErrErased when the
// chain refused the read (no receipt was taken), or says why a read record
// could not be downloaded or decrypted (its receipt was taken).
type Opened struct {
	Record  recordstypes.Record
	Receipt uint64
	Plain   []byte
	Err     error
}

// ReadAll reads recs for purpose, in their order: the chain decides each read
// first (ReadDecisions). The agent's own records (the chain allows them
// because it is their patient) are downloaded without receipts, in batch
// requests naming the records. The others allowed take one access receipt
// each, in transactions of ReceiptsPerTx sent back to back; as each
// transaction commits, its records are downloaded in one batch request
// naming the receipts, and decrypted. Only a vault out of reach, a cancelled context or
// a receipt transaction that fails is an error; a record that is refused or
// does not open gets its reason in Opened.Err.
func (a *Agent) ReadAll(ctx context.Context, recs []recordstypes.Record, purpose, vaultURL string, progress Progress,
) ([]Opened, error) {
	return a.readAll(ctx, recs, purpose, vaultURL, progress, true)
}

// ErrNotOwn is the reason ReadOwn gives for a record the chain does not let
// the agent read as its patient: reading it would take a receipt.
var ErrNotOwn = errors.New("not a record of which you are the patient: reading it takes an access receipt")

// ReadOwn reads recs of which the agent is the patient, without receipts
// (the chain allows each read as the patient's own: docs/architecture.md
// §13). It never takes a receipt: a record the chain allows only otherwise
// gets ErrNotOwn in Opened.Err, one it refuses the refusal.
func (a *Agent) ReadOwn(ctx context.Context, recs []recordstypes.Record, vaultURL string) ([]Opened, error) {
	return a.readAll(ctx, recs, consenttypes.PurposePatientRequest, vaultURL, nil, false)
}

func (a *Agent) readAll(ctx context.Context, recs []recordstypes.Record, purpose, vaultURL string, progress Progress, withReceipts bool,
) ([]Opened, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	out := make([]Opened, len(recs))
	for i := range recs {
		out[i].Record = recs[i]
	}
	// the chain's decision for every record, MaxQueryIDs per query
	refusals, own, err := a.readDecisions(ctx, recs, purpose)
	if err != nil {
		return nil, err
	}
	keys := a.newOpenKeys()
	var todo, mine []int // indexes into recs: to read with a receipt; the agent's own, read without
	for i, rec := range recs {
		if refusals[i] != nil {
			out[i].Err = refusals[i]
			continue
		}
		if !own[i] && !withReceipts {
			out[i].Err = fmt.Errorf("record %d: %w", rec.Id, ErrNotOwn)
			continue
		}
		if k := keys.of(ctx, rec); k.err != nil {
			out[i].Err = k.err
			continue
		}
		if own[i] {
			mine = append(mine, i)
		} else {
			todo = append(todo, i)
		}
	}
	keyOf := keys.got
	plain := make([][]byte, len(recs))
	failures := make([]string, len(recs))
	if err := a.downloadAll(ctx, recs, mine, nil, vaultURL, keyOf, plain, failures, progress); err != nil {
		return nil, err
	}
	settle(out, mine, plain, failures)

	// receipts: all transactions sent at once; each committed one is
	// downloaded and decrypted while the others commit
	var txs [][]sdk.Msg
	var resps [][]gogoproto.Message
	for start := 0; start < len(todo); start += ReceiptsPerTx {
		batch := todo[start:min(start+ReceiptsPerTx, len(todo))]
		msgs := make([]sdk.Msg, len(batch))
		rs := make([]gogoproto.Message, len(batch))
		for j, i := range batch {
			msgs[j] = &recordstypes.MsgAccessRecord{Accessor: a.addr, RecordId: recs[i].Id, Purpose: purpose}
			rs[j] = &recordstypes.MsgAccessRecordResponse{}
		}
		txs, resps = append(txs, msgs), append(resps, rs)
	}
	committed := make(chan int, len(txs))
	var sendErrs []error
	go func() {
		defer close(committed)
		if len(txs) > 0 { // nothing to send: not even a sender (an account query, a block subscription)
			sendErrs = a.SendAll(ctx, txs, resps, func(k int) { committed <- k })
		}
	}()
	var mu sync.Mutex
	receipts, downloaded := 0, 0
	var downloadErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, bulkParallel)
	for k := range committed {
		mu.Lock()
		receipts += len(txs[k])
		progress("receipts", receipts, len(todo))
		mu.Unlock()
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			batch := todo[k*ReceiptsPerTx : min((k+1)*ReceiptsPerTx, len(todo))]
			err := a.downloadBatch(ctx, recs, batch, receiptIDs(resps[k]), vaultURL, keyOf, plain, failures)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && downloadErr == nil {
				downloadErr = err
			}
			downloaded += len(batch)
			progress("downloading", downloaded, len(todo))
		})
	}
	wg.Wait()
	for k, err := range sendErrs {
		if err != nil {
			batch := todo[k*ReceiptsPerTx : min((k+1)*ReceiptsPerTx, len(todo))]
			return nil, fmt.Errorf("taking the receipts for records %d to %d: %w", recs[batch[0]].Id, recs[batch[len(batch)-1]].Id, err)
		}
	}
	if downloadErr != nil {
		return nil, downloadErr
	}
	for k, batch := range txs {
		for j := range batch {
			out[todo[k*ReceiptsPerTx+j]].Receipt = resps[k][j].(*recordstypes.MsgAccessRecordResponse).ReceiptId
		}
	}
	settle(out, todo, plain, failures)
	return out, nil
}

// settle gives out[i], for each i of idx, its plaintext or why it did not
// open.
func settle(out []Opened, idx []int, plain [][]byte, failures []string) {
	for _, i := range idx {
		if failures[i] != "" {
			out[i].Err = errors.New(failures[i])
		} else {
			out[i].Plain = plain[i]
		}
	}
}

// ReadRefusals asks the chain (ReadDecisions, one query per MaxQueryIDs
// records, a few at a time) whether the agent may read each of recs for
// purpose now: nil for a read the chain allows, else the refusal (an
// *AccessDenied, or ErrErased).
func (a *Agent) ReadRefusals(ctx context.Context, recs []recordstypes.Record, purpose string) ([]error, error) {
	refusals, _, err := a.readDecisions(ctx, recs, purpose)
	return refusals, err
}

// readDecisions is ReadRefusals, and also says of each allowed read whether
// the chain allows it because the agent is the record's patient (own[i]):
// such a read discloses nothing and takes no receipt.
func (a *Agent) readDecisions(ctx context.Context, recs []recordstypes.Record, purpose string) ([]error, []bool, error) {
	refusals := make([]error, len(recs))
	own := make([]bool, len(recs))
	chunks := (len(recs) + recordstypes.MaxQueryIDs - 1) / recordstypes.MaxQueryIDs
	rq := recordstypes.NewQueryClient(a.clientCtx)
	err := parallel(ctx, chunks, bulkParallel, func(ctx context.Context, k int) error {
		start := k * recordstypes.MaxQueryIDs
		chunk := recs[start:min(start+recordstypes.MaxQueryIDs, len(recs))]
		ids := make([]uint64, len(chunk))
		for i, r := range chunk {
			ids[i] = r.Id
		}
		resp, err := rq.ReadDecisions(ctx, &recordstypes.QueryReadDecisionsRequest{Accessor: a.addr, Purpose: purpose, RecordIds: ids})
		if err != nil {
			return err
		}
		if len(resp.Decisions) != len(ids) {
			return fmt.Errorf("the chain decided %d reads of %d", len(resp.Decisions), len(ids))
		}
		for i, d := range resp.Decisions {
			rec := chunk[i]
			switch {
			case d.Erased || d.NotFound:
				refusals[start+i] = fmt.Errorf("record %d was %w by the patient: its key and location are gone", rec.Id, ErrErased)
			case !d.Allowed:
				refusals[start+i] = fmt.Errorf("record %d: %w", rec.Id, a.denied(rec.Patient, rec.DataClass, consenttypes.PermissionRead, purpose, d.Reason))
			default:
				own[start+i] = d.Reason == consenttypes.ACCESS_REASON_PATIENT
			}
		}
		return nil
	})
	return refusals, own, err
}

// openKeys are the class keys of a read of many records, each (class,
// epoch) fetched once. of fills it before the downloads start; they only
// read it (got), so it needs no lock.
type openKeys struct {
	a *Agent
	m map[classEpoch]*openKey
}

type classEpoch struct {
	class string
	epoch uint64
}

func (a *Agent) newOpenKeys() *openKeys { return &openKeys{a: a, m: map[classEpoch]*openKey{}} }

// of is the key that opens rec (k.err says why there is none).
func (o *openKeys) of(ctx context.Context, rec recordstypes.Record) *openKey {
	ce := classEpoch{rec.DataClass, rec.KeyEpoch}
	k := o.m[ce]
	if k == nil {
		k = &openKey{}
		k.key, k.kctx, k.err = o.a.ClassKey(ctx, rec.Patient, ce.class, ce.epoch)
		o.m[ce] = k
	}
	return k
}

// got is the key of rec that of has fetched: the lookup of the downloads,
// which run concurrently and only read.
func (o *openKeys) got(rec recordstypes.Record) *openKey {
	if k := o.m[classEpoch{rec.DataClass, rec.KeyEpoch}]; k != nil {
		return k
	}
	return &openKey{err: errors.New("no class key was fetched for this record")}
}

// openKey is the class key that opens a record, or why there is none.
type openKey struct {
	key  []byte
	kctx crypto.KeyContext
	err  error
}

// ReadByReceipts downloads and decrypts recs[i] by the agent's access
// receipt receipts[i], taken earlier (no new receipt: the vault serves a
// receipt while it is fresh and the chain still allows the read). A record
// that does not open gets its reason in Opened.Err.
func (a *Agent) ReadByReceipts(ctx context.Context, recs []recordstypes.Record, receipts []uint64, vaultURL string) ([]Opened, error) {
	if len(recs) != len(receipts) {
		return nil, fmt.Errorf("%d records and %d receipts", len(recs), len(receipts))
	}
	if slices.Contains(receipts, 0) {
		return nil, errors.New("receipt 0: every record needs the receipt it is read by")
	}
	keys := a.newOpenKeys()
	out := make([]Opened, len(recs))
	var todo []int
	for i, rec := range recs {
		out[i].Record, out[i].Receipt = rec, receipts[i]
		if k := keys.of(ctx, rec); k.err != nil {
			out[i].Err = k.err
			continue
		}
		todo = append(todo, i)
	}
	plain := make([][]byte, len(recs))
	failures := make([]string, len(recs))
	if err := a.downloadAll(ctx, recs, todo, receipts, vaultURL, keys.got, plain, failures, func(string, int, int) {}); err != nil {
		return nil, err
	}
	settle(out, todo, plain, failures)
	return out, nil
}

// receiptIDs are the receipt ids of MsgAccessRecord responses.
func receiptIDs(resps []gogoproto.Message) []uint64 {
	ids := make([]uint64, len(resps))
	for j, r := range resps {
		ids[j] = r.(*recordstypes.MsgAccessRecordResponse).ReceiptId
	}
	return ids
}

// downloadAll downloads and decrypts recs[i] for each i of idx, by the
// receipt receipts[i] taken earlier or, with receipts nil, as their patient
// (no receipt): in batches of at most vault.MaxBatchItems records and about
// vault.MaxBatchBytes, a few at a time.
func (a *Agent) downloadAll(ctx context.Context, recs []recordstypes.Record, idx []int, receipts []uint64, vaultURL string,
	keyOf func(recordstypes.Record) *openKey, plain [][]byte, failures []string, progress Progress,
) error {
	var batches [][]int
	var size uint64
	for _, i := range idx {
		n := len(batches)
		if n == 0 || len(batches[n-1]) == vault.MaxBatchItems || size+recs[i].Size_ > vault.MaxBatchBytes {
			batches, size = append(batches, nil), 0
			n++
		}
		batches[n-1] = append(batches[n-1], i)
		size += recs[i].Size_
	}
	var mu sync.Mutex
	done := 0
	return parallel(ctx, len(batches), bulkParallel, func(ctx context.Context, k int) error {
		var ids []uint64 // the batch's receipts, nil for the patient's own records
		if receipts != nil {
			ids = make([]uint64, len(batches[k]))
			for j, i := range batches[k] {
				ids[j] = receipts[i]
			}
		}
		if err := a.downloadBatch(ctx, recs, batches[k], ids, vaultURL, keyOf, plain, failures); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		done += len(batches[k])
		progress("downloading", done, len(idx))
		return nil
	})
}

// downloadBatch downloads and decrypts the records recs[i] of batch by the
// receipts (receipts[j] for batch[j]) or, with none, as their patient (one
// batch request per vault), into plain[i]. A vault
// out of reach (or a cancelled export) is an error: the next record would
// fail the same way. A record that does not open (refused or missing blob,
// corrupt ciphertext, a key envelope that is not the class key's) gets its
// reason in failures[i]: one bad record must not cost the patient the rest.
func (a *Agent) downloadBatch(ctx context.Context, recs []recordstypes.Record, batch []int, receipts []uint64, vaultURL string,
	keyOf func(recordstypes.Record) *openKey, plain [][]byte, failures []string,
) error {
	const cannot = "could not be opened: "
	groups := map[string][]int{} // vault URL → positions in batch
	for j, i := range batch {
		u, err := a.vaultFor(ctx, recs[i], vaultURL)
		if err != nil {
			failures[i] = cannot + err.Error()
			continue
		}
		groups[u] = append(groups[u], j)
	}
	for u, js := range groups {
		want := make([]vault.Wanted, len(js))
		for n, j := range js {
			rec := recs[batch[j]]
			want[n] = vault.Wanted{Record: rec.Id, MaxSize: int64(rec.Size_)}
			if receipts != nil {
				want[n].Receipt = receipts[j]
			}
			copy(want[n].Hash[:], rec.ContentHash)
		}
		got, err := a.vaultClient(u).GetBatch(ctx, want)
		if err != nil {
			if errors.Is(err, vault.ErrUnreachable) || ctx.Err() != nil {
				return fmt.Errorf("record %d: %w", recs[batch[js[0]]].Id, err)
			}
			for _, j := range js {
				failures[batch[j]] = cannot + err.Error()
			}
			continue
		}
		for n, j := range js {
			i := batch[j]
			if got[n].Err != nil {
				failures[i] = cannot + got[n].Err.Error()
				continue
			}
			k := keyOf(recs[i])
			r, err := openRecord(recs[i], bytes.NewReader(got[n].Data), k.key, k.kctx)
			if err == nil {
				plain[i], err = io.ReadAll(r)
			}
			if err != nil {
				failures[i] = cannot + err.Error()
			}
		}
	}
	return nil
}
