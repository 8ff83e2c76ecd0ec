package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

func (e *env) client(who string) *Client {
	return &Client{BaseURL: e.http.URL, Keyring: e.kr, UID: who, Address: e.addr[who]}
}

func TestBatchPutAndGet(t *testing.T) {
	e := newEnv(t, Config{QuotaBytes: 1 << 20})
	ctx := context.Background()
	var blobs []BatchData
	for i := range 20 {
		data := []byte(fmt.Sprintf("ciphertext number %d", i))
		blobs = append(blobs, BatchData{Hash: hashOf(data), Data: data})
	}
	// an account that may not upload is refused as a whole
	if _, err := e.client("lab").PutBatch(ctx, blobs); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("lab's batch: %v", err)
	}
	// one blob already stored: the batch stores the others and says so
	if code, out := e.do(http.MethodPut, blobs[3].Hash, blobs[3].Data, "hospital", time.Now()); code != http.StatusCreated {
		t.Fatalf("put: %d %s", code, out)
	}
	res, err := e.client("hospital").PutBatch(ctx, blobs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		want := http.StatusCreated
		if i == 3 {
			want = http.StatusOK
		}
		if r.Status != want || r.Hash != blobs[i].Hash.String() {
			t.Fatalf("blob %d: %+v", i, r)
		}
	}
	// a blob whose bytes are not its name is refused alone; the rest are kept
	bad := []BatchData{{Hash: hashOf([]byte("a")), Data: []byte("b")}, {Hash: hashOf([]byte("c")), Data: []byte("c")}}
	res, err = e.client("hospital").PutBatch(ctx, bad)
	if err != nil || res[0].Status != http.StatusBadRequest || res[1].Status != http.StatusCreated {
		t.Fatalf("mismatched blob: %+v %v", res, err)
	}
	// past the quota, blobs are refused one by one, the batch goes on (which
	// of two that do not both fit is stored is not defined: they are stored
	// in parallel)
	big := bytes.Repeat([]byte("q"), 900<<10)
	res, err = e.client("hospital").PutBatch(ctx, []BatchData{{Hash: hashOf(big), Data: big}, {Hash: hashOf(big[1:]), Data: big[1:]}})
	if err != nil || res[0].Status+res[1].Status != http.StatusCreated+http.StatusForbidden {
		t.Fatalf("quota: %+v %v", res, err)
	}

	// reads by receipt: allowed, refused, erased, from another uploader, unknown
	e.chain.byReceipt[1] = ReceiptAccess{Hash: blobs[0].Hash, Author: e.addr["hospital"], Allowed: true}
	e.chain.byReceipt[2] = ReceiptAccess{Hash: blobs[1].Hash, Author: e.addr["hospital"]}
	e.chain.byReceipt[3] = ReceiptAccess{Hash: blobs[2].Hash, Author: e.addr["hospital"], Erased: true}
	e.chain.byReceipt[4] = ReceiptAccess{Hash: blobs[4].Hash, Author: e.addr["lab"], Allowed: true}
	e.chain.byReceipt[6] = ReceiptAccess{Hash: blobs[5].Hash, Author: e.addr["hospital"], Allowed: true}
	want := []Wanted{
		{Receipt: 1, Hash: blobs[0].Hash, MaxSize: 100},
		{Receipt: 2, Hash: blobs[1].Hash, MaxSize: 100},
		{Receipt: 3, Hash: blobs[2].Hash, MaxSize: 100},
		{Receipt: 4, Hash: blobs[4].Hash, MaxSize: 100},
		{Receipt: 5, Hash: blobs[6].Hash, MaxSize: 100},
		{Receipt: 6, Hash: blobs[5].Hash, MaxSize: 100},
	}
	got, err := e.client("lab").GetBatch(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[0].Data, blobs[0].Data) || !bytes.Equal(got[5].Data, blobs[5].Data) {
		t.Fatalf("allowed reads: %q, %q", got[0].Data, got[5].Data)
	}
	for i, code := range map[int]int{1: http.StatusForbidden, 3: http.StatusForbidden, 4: http.StatusForbidden} {
		if !isStatus(got[i].Err, code) || got[i].Data != nil {
			t.Fatalf("item %d: %v, want %d", i, got[i].Err, code)
		}
	}
	if !errors.Is(got[2].Err, ErrGone) {
		t.Fatalf("erased: %v", got[2].Err)
	}
	// the client checks what it gets against the hash it expects
	got, err = e.client("lab").GetBatch(ctx, []Wanted{{Receipt: 1, Hash: blobs[1].Hash, MaxSize: 100}})
	if err != nil || !errors.Is(got[0].Err, ErrCorrupt) {
		t.Fatalf("wrong bytes: %v %v", got, err)
	}
	// and the one-receipt route answers like a batch of one
	var buf bytes.Buffer
	if _, err := e.client("lab").GetByReceipt(ctx, 1, blobs[0].Hash, &buf, 100); err != nil || !bytes.Equal(buf.Bytes(), blobs[0].Data) {
		t.Fatalf("by receipt: %v", err)
	}
	if _, err := e.client("lab").GetByReceipt(ctx, 2, blobs[1].Hash, &buf, 100); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("refused by receipt: %v", err)
	}
}

// TestBatchOwnRecords: a patient downloads her own records by record id,
// without receipts, where the chain says she reads them as their patient;
// any other caller, or a record that is not hers, is refused item by item.
func TestBatchOwnRecords(t *testing.T) {
	e := newEnv(t, Config{QuotaBytes: 1 << 20})
	ctx := context.Background()
	var blobs []BatchData
	for i := range 3 {
		data := []byte(fmt.Sprintf("own ciphertext %d", i))
		blobs = append(blobs, BatchData{Hash: hashOf(data), Data: data})
	}
	if _, err := e.client("hospital").PutBatch(ctx, blobs); err != nil {
		t.Fatal(err)
	}
	lab := e.addr["lab"] // lab is the patient here
	e.chain.own[lab+"|10"] = ReceiptAccess{Hash: blobs[0].Hash, Author: e.addr["hospital"], Allowed: true}
	e.chain.own[lab+"|11"] = ReceiptAccess{Erased: true}
	e.chain.own[lab+"|12"] = ReceiptAccess{Hash: blobs[2].Hash, Author: e.addr["stranger"], Allowed: true} // not the uploader's record
	want := []Wanted{
		{Record: 10, Hash: blobs[0].Hash, MaxSize: 100},
		{Record: 11, Hash: blobs[1].Hash, MaxSize: 100},
		{Record: 12, Hash: blobs[2].Hash, MaxSize: 100},
		{Record: 13, Hash: blobs[1].Hash, MaxSize: 100}, // not hers
	}
	got, err := e.client("lab").GetBatch(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[0].Data, blobs[0].Data) {
		t.Fatalf("her own record: %v", got[0].Err)
	}
	if !errors.Is(got[1].Err, ErrGone) || !isStatus(got[2].Err, http.StatusForbidden) || !isStatus(got[3].Err, http.StatusForbidden) {
		t.Fatalf("erased, another uploader's copy, not hers: %v, %v, %v", got[1].Err, got[2].Err, got[3].Err)
	}
	// the same record ids asked by someone else open nothing
	got, err = e.client("hospital").GetBatch(ctx, want[:1])
	if err != nil || !isStatus(got[0].Err, http.StatusForbidden) || got[0].Data != nil {
		t.Fatalf("the author asks for the patient's own read: %v %v", got, err)
	}
	// a body naming both receipts and records is refused whole
	raw, _ := json.Marshal(BatchGetRequest{Receipts: []uint64{1}, Records: []uint64{10}})
	sum := sha256.Sum256(raw)
	resp, err := e.client("lab").send(ctx, http.MethodPost, "/v1/batch/get", func() io.Reader { return bytes.NewReader(raw) }, int64(len(raw)),
		hex.EncodeToString(sum[:]))
	if !isStatus(err, http.StatusBadRequest) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("receipts and records in one body: %v", err)
	}
	if _, err := e.client("lab").GetBatch(ctx, []Wanted{{Record: 10}, {Receipt: 1}}); err == nil {
		t.Fatal("the client sent a batch mixing receipts and records")
	}
}

func TestBatchRefusals(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	many := make([]Wanted, MaxBatchItems+1)
	for i := range many {
		many[i] = Wanted{Receipt: uint64(i + 1)}
	}
	if _, err := e.client("lab").GetBatch(ctx, many); !isStatus(err, http.StatusBadRequest) {
		t.Fatalf("too many receipts: %v", err)
	}
	blobs := make([]BatchData, 2)
	for i := range blobs {
		data := []byte("same")
		blobs[i] = BatchData{Hash: hashOf(data), Data: data}
	}
	if _, err := e.client("hospital").PutBatch(ctx, blobs); !isStatus(err, http.StatusBadRequest) {
		t.Fatalf("a blob listed twice: %v", err)
	}
	big := make([]byte, MaxBatchBytes+1)
	if _, err := e.client("hospital").PutBatch(ctx, []BatchData{{Hash: hashOf(big), Data: big}}); !isStatus(err, http.StatusBadRequest) {
		t.Fatalf("a batch over MaxBatchBytes: %v", err)
	}
}

func isStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == code
}

// TestBatchMemoryIsBounded: batch uploads hold their blobs in memory, so the
// vault admits them only within a shared budget; past it, a client is asked
// to retry (429 with Retry-After), which vault.Client does.
func TestBatchMemoryIsBounded(t *testing.T) {
	e := newEnv(t, Config{})
	if !e.srv.batchMemory.TryAcquire(BatchMemory) { // as if other batches held it all
		t.Fatal("the budget is not free at start")
	}
	data := []byte("a blob")
	blobs := []BatchData{{Hash: hashOf(data), Data: data}}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := e.client("hospital").PutBatch(ctx, blobs); err == nil {
		t.Fatal("a batch was admitted past the memory budget")
	}
	// once the budget is released, the same client's retry gets through
	e.srv.batchMemory.Release(BatchMemory)
	res, err := e.client("hospital").PutBatch(context.Background(), blobs)
	if err != nil || res[0].Status != http.StatusCreated {
		t.Fatalf("after the release: %+v %v", res, err)
	}
}
