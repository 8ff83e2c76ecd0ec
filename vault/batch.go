package vault

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
)

// Batches: one signed request carries many blobs, so a bulk import or export
// costs one signature, one replay-cache entry and one rate-limit token per
// batch instead of per record. The vault checks every blob exactly as it
// checks a single one (hash, size, quota; receipt, consent, uploader).
//
//	POST /v1/batch/put   body: manifest line, then the blobs back to back
//	POST /v1/batch/get   body: {"receipts":[…]} or, for a patient's own
//	                     records, {"records":[…]}; answer: per item a header
//	                     line, then its bytes
const (
	// MaxBatchItems bounds the blobs of one batch request.
	MaxBatchItems = 256
	// MaxBatchBytes bounds the blob bytes of one batch request; larger
	// blobs go one by one (PUT /v1/blobs/{hash}).
	MaxBatchBytes = 64 << 20
	// maxManifest bounds a batch's manifest line or request body.
	maxManifest = 64 << 10
	// batchStores is how many blobs of one batch put are stored at once.
	batchStores = 16
)

// BatchBlob names one blob of a batch upload's manifest.
type BatchBlob struct {
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

// BatchManifest is the first line of a batch upload: the blobs that follow,
// in order. The request's signed content hash is the SHA-256 of this line
// (without its newline).
type BatchManifest struct {
	Blobs []BatchBlob `json:"blobs"`
}

// BatchPutResult is the vault's answer for one blob of a batch upload: 201
// stored, 200 already stored, or an error status and message.
type BatchPutResult struct {
	Hash   string `json:"hash"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// BatchGetRequest is the body of a batch download: either the access
// receipts whose records to send, or the ids of records the caller reads as
// their patient (no receipt: Chain.OwnAccess); at most MaxBatchItems. The
// request's signed content hash is the SHA-256 of the body.
type BatchGetRequest struct {
	Receipts []uint64 `json:"receipts,omitempty"`
	Records  []uint64 `json:"records,omitempty"`
}

// ids returns the request's ids and whether they name receipts, or an error
// for a body that names neither, both or too many.
func (r BatchGetRequest) ids() ([]uint64, bool, error) {
	ids, receipts := r.Receipts, true
	if len(r.Records) > 0 {
		ids, receipts = r.Records, false
	}
	if len(r.Receipts) > 0 && len(r.Records) > 0 || len(ids) == 0 || len(ids) > MaxBatchItems {
		return nil, false, fmt.Errorf("the body must be {\"receipts\": [1 to %d receipt ids]} or {\"records\": [1 to %d record ids]}",
			MaxBatchItems, MaxBatchItems)
	}
	return ids, receipts, nil
}

// BatchGetItem heads one answer of a batch download, on a line of its own.
// With Status 200, Size bytes of the blob follow the line; otherwise nothing
// does and Error says why.
type BatchGetItem struct {
	Receipt uint64 `json:"receipt,omitempty"`
	Record  uint64 `json:"record,omitempty"`
	Hash    string `json:"hash,omitempty"`
	Size    int64  `json:"size,omitempty"`
	Status  int    `json:"status"`
	Error   string `json:"error,omitempty"`
}

// putBatch serves POST /v1/batch/put.
func (s *Server) putBatch(w http.ResponseWriter, r *http.Request) {
	addr, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if r.ContentLength < 0 {
		httpError(w, http.StatusLengthRequired, "send Content-Length: uploads are counted against a quota before they are read")
		return
	}
	body := bufio.NewReaderSize(http.MaxBytesReader(w, r.Body, r.ContentLength), 64<<10)
	line, err := readLine(body)
	if err != nil {
		httpError(w, http.StatusBadRequest, "the batch has no manifest line: "+err.Error())
		return
	}
	if sum := sha256.Sum256(line); hex.EncodeToString(sum[:]) != r.Header.Get(HeaderContent) {
		httpError(w, http.StatusBadRequest, "the signed content hash must be the SHA-256 of the manifest line")
		return
	}
	var m BatchManifest
	if err := json.Unmarshal(line, &m); err != nil {
		httpError(w, http.StatusBadRequest, "the manifest is not JSON: "+err.Error())
		return
	}
	hashes, total, err := m.check()
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if int64(len(line))+1+total != r.ContentLength {
		httpError(w, http.StatusBadRequest, "Content-Length is not the manifest line plus the sizes it lists")
		return
	}
	if !s.mayUpload(w, r, addr) {
		return
	}
	// A batch's blobs are held in memory while they are stored: the vault
	// reserves their size from a budget shared by all batch uploads, so that
	// many (or slow) batches cannot exhaust its memory; when it is spent, the
	// client is asked to retry.
	if !s.batchMemory.TryAcquire(total) {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusTooManyRequests, "the vault is storing other batches: retry in a moment")
		return
	}
	defer s.batchMemory.Release(total)
	if err := http.NewResponseController(w).SetReadDeadline(s.cfg.transferDeadline(total)); err != nil {
		s.log.Warn("cannot bound the upload's duration", "err", err)
	}
	// Each blob is read whole, then stored by one of batchStores workers, so
	// the syncs of a batch's blobs overlap.
	results := make([]BatchPutResult, len(m.Blobs))
	faults := make([]error, len(m.Blobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, batchStores)
	for i, b := range m.Blobs {
		buf := make([]byte, b.Size)
		if _, err := io.ReadFull(body, buf); err != nil {
			wg.Wait()
			status, msg := http.StatusBadRequest, "the batch body ended early; blobs before it were kept"
			if errors.Is(err, os.ErrDeadlineExceeded) {
				status, msg = http.StatusRequestTimeout, "upload slower than the vault's minimum rate; blobs before it were kept"
			}
			httpError(w, status, msg)
			return
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res := s.storeBlob(r.Context(), hashes[i], bytes.NewReader(buf), b.Size, addr)
			results[i] = BatchPutResult{Hash: b.Hash, Status: res.Status, Error: res.Error}
			faults[i] = res.err
		})
	}
	wg.Wait()
	if err := errors.Join(faults...); errors.Is(err, ErrUnavailable) {
		s.internal(w, http.StatusServiceUnavailable, "the blob store "+s.store.Name()+
			" is unavailable; some blobs of this batch may not be stored: send it again later", err)
		return
	} else if err != nil {
		s.internal(w, http.StatusInternalServerError, "cannot store the blobs", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"blobs": results})
}

// check validates a manifest and returns its parsed hashes and total size.
func (m BatchManifest) check() ([]Hash, int64, error) {
	if len(m.Blobs) == 0 || len(m.Blobs) > MaxBatchItems {
		return nil, 0, fmt.Errorf("a batch has 1 to %d blobs, not %d", MaxBatchItems, len(m.Blobs))
	}
	hashes := make([]Hash, len(m.Blobs))
	seen := make(map[Hash]bool, len(m.Blobs))
	var total int64
	for i, b := range m.Blobs {
		h, err := ParseHash(b.Hash)
		if err != nil {
			return nil, 0, fmt.Errorf("blob %d: %w", i, err)
		}
		if seen[h] {
			return nil, 0, fmt.Errorf("blob %d: %s is listed twice", i, b.Hash)
		}
		seen[h] = true
		if b.Size < 0 || b.Size > MaxBatchBytes-total {
			return nil, 0, fmt.Errorf("blob %d: the blobs of a batch total at most %d bytes (send larger ones one by one)", i, MaxBatchBytes)
		}
		total += b.Size
		hashes[i] = h
	}
	return hashes, total, nil
}

// readLine reads one line of at most maxManifest bytes, without its newline.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, more, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, part...)
		if len(line) > maxManifest {
			return nil, fmt.Errorf("longer than %d bytes", maxManifest)
		}
		if !more {
			return line, nil
		}
	}
}

// getBatch serves POST /v1/batch/get: the access decisions are asked of the
// chain a few at a time, and the answers stream back in the request's order.
func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	addr, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxManifest+1))
	if err != nil || len(raw) > maxManifest {
		httpError(w, http.StatusBadRequest, "the request body must be at most "+strconv.Itoa(maxManifest)+" bytes")
		return
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != r.Header.Get(HeaderContent) {
		httpError(w, http.StatusBadRequest, "the signed content hash must be the SHA-256 of the body")
		return
	}
	var req BatchGetRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		httpError(w, http.StatusBadRequest, "the body is not JSON: "+err.Error())
		return
	}
	ids, receipts, err := req.ids()
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	// One chain query for the whole batch, then stream.
	var items []opened
	if receipts {
		items = s.openReceipts(r.Context(), addr, ids)
	} else {
		items = s.openOwn(r.Context(), addr, ids)
	}
	defer func() {
		for _, o := range items {
			if o.rc != nil {
				_ = o.rc.Close()
			}
		}
	}()
	var total int64
	for _, o := range items {
		if o.err != nil {
			s.log.Error("batch download", "err", o.err)
		}
		total += o.info.Size
	}
	if err := http.NewResponseController(w).SetWriteDeadline(s.cfg.transferDeadline(total)); err != nil {
		s.log.Warn("cannot bound the download's duration", "err", err)
	}
	w.Header().Set("Content-Type", "application/x-healthd-batch")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	for i, o := range items {
		head := BatchGetItem{Status: o.Status, Error: o.Error}
		if receipts {
			head.Receipt = ids[i]
		} else {
			head.Record = ids[i]
		}
		if o.Status == http.StatusOK {
			head.Hash, head.Size = o.info.Hash, o.info.Size
		}
		line, _ := json.Marshal(head)
		if _, err := bw.Write(append(line, '\n')); err != nil {
			return
		}
		if o.Status == http.StatusOK {
			if n, err := io.Copy(bw, o.rc); err != nil || n != o.info.Size {
				return // the client sees a short stream and fails the rest
			}
		}
	}
	_ = bw.Flush()
}

// PutBatch uploads blobs (each data hashing to its hash) in one request, and
// returns the vault's answer for each, in order. An error is a failure of the
// whole request; a refused blob is a result with its status.
func (c *Client) PutBatch(ctx context.Context, blobs []BatchData) ([]BatchPutResult, error) {
	m := BatchManifest{Blobs: make([]BatchBlob, len(blobs))}
	var total int64
	for i, b := range blobs {
		m.Blobs[i] = BatchBlob{Hash: b.Hash.String(), Size: int64(len(b.Data))}
		total += int64(len(b.Data))
	}
	line, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(line)
	line = append(line, '\n')
	body := func() io.Reader {
		parts := make([]io.Reader, 0, len(blobs)+1)
		parts = append(parts, bytes.NewReader(line))
		for _, b := range blobs {
			parts = append(parts, bytes.NewReader(b.Data))
		}
		return io.MultiReader(parts...)
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/batch/put", body, int64(len(line))+total, hex.EncodeToString(sum[:]))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Blobs []BatchPutResult `json:"blobs"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || len(out.Blobs) != len(blobs) {
		return nil, fmt.Errorf("vault %s: an unreadable answer to a batch upload (%v)", c.BaseURL, err)
	}
	return out.Blobs, nil
}

// BatchData is one blob to upload.
type BatchData struct {
	Hash Hash
	Data []byte
}

// Wanted is one blob to download by its access receipt or, for the record's
// patient, by its record id (Receipt 0): the record's content hash and size,
// as the chain says, which the download must match.
type Wanted struct {
	Receipt uint64
	Record  uint64
	Hash    Hash
	MaxSize int64
}

// Got is the outcome of one wanted blob: its bytes, or why not (a
// *StatusError with the vault's status; ErrGone for an erased record;
// ErrCorrupt for bytes that do not match the hash).
type Got struct {
	Data []byte
	Err  error
}

// GetBatch downloads the blobs of want in one request and checks each
// against its hash. Every item names a receipt, or every item names a record
// of which the caller is the patient. An error is a failure of the whole
// request.
func (c *Client) GetBatch(ctx context.Context, want []Wanted) ([]Got, error) {
	var req BatchGetRequest
	for _, w := range want {
		if (w.Receipt == 0) != (want[0].Receipt == 0) || w.Receipt == 0 && w.Record == 0 {
			return nil, errors.New("a batch download names receipts, or records of which the caller is the patient, not both")
		}
		if w.Receipt != 0 {
			req.Receipts = append(req.Receipts, w.Receipt)
		} else {
			req.Records = append(req.Records, w.Record)
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	resp, err := c.send(ctx, http.MethodPost, "/v1/batch/get", func() io.Reader { return bytes.NewReader(body) }, int64(len(body)),
		hex.EncodeToString(sum[:]))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	out := make([]Got, len(want))
	for i, w := range want {
		line, err := readLine(br)
		if err != nil {
			return nil, fmt.Errorf("vault %s: the batch answer ended at item %d of %d: %w", c.BaseURL, i, len(want), err)
		}
		var head BatchGetItem
		if err := json.Unmarshal(line, &head); err != nil || head.Receipt != w.Receipt || w.Receipt == 0 && head.Record != w.Record {
			return nil, fmt.Errorf("vault %s: an unreadable batch answer at item %d", c.BaseURL, i)
		}
		switch {
		case head.Status == http.StatusGone:
			out[i].Err = fmt.Errorf("%w: %s", ErrGone, head.Error)
			continue
		case head.Status != http.StatusOK:
			out[i].Err = &StatusError{Status: head.Status, Message: head.Error}
			continue
		case head.Size < 0 || head.Size > w.MaxSize:
			return nil, fmt.Errorf("vault %s: item %d: %w", c.BaseURL, i, ErrCorrupt)
		}
		data := make([]byte, head.Size)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, fmt.Errorf("vault %s: the batch answer ended inside item %d: %w", c.BaseURL, i, err)
		}
		if sha256.Sum256(data) != w.Hash {
			out[i].Err = ErrCorrupt
			continue
		}
		out[i].Data = data
	}
	return out, nil
}
