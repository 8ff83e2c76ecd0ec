package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Chain is what the vault asks the healthd chain.
//
// A blob is bound to the record that its uploader committed: the record with
// its content hash whose author is the account that uploaded it. The chain
// refuses a hash committed before, so nobody can copy a hash into a record of
// their own; and a record with the hash that someone other than the uploader
// committed first (a front-run) neither opens the blob nor keeps it alive.
type Chain interface {
	// Known reports whether addr is a registered patient or a registered
	// provider (of any status): only such accounts' requests are remembered
	// against replay, so that fresh keys cannot fill the replay cache.
	Known(ctx context.Context, addr string) (bool, error)
	// MayUpload reports whether addr is a registered patient or an active provider.
	MayUpload(ctx context.Context, addr string) (bool, error)
	// ReadAccess reports whether addr holds an access receipt, at most maxAge
	// old, for the record with content hash h that uploader committed, and the
	// chain's access rule (CheckAccess) still allows addr that read now; erased
	// is true when that record is erased.
	ReadAccess(ctx context.Context, addr string, h Hash, uploader string, maxAge time.Duration) (allowed, erased bool, err error)
	// ReceiptAccess reports on access receipts ids of addr, one answer per
	// id in order: the content hash and author of its record; Allowed if the
	// receipt is addr's, at most maxAge old, and the chain's access rule
	// (CheckAccess) still allows addr that read now; Erased if the record is
	// erased. An unknown receipt, or someone else's, is not allowed.
	ReceiptAccess(ctx context.Context, addr string, ids []uint64, maxAge time.Duration) ([]ReceiptAccess, error)
	// OwnAccess reports on records ids for addr reading them as their
	// patient, one answer per id in order: Allowed only if the chain's access
	// rule allows addr the read *because addr is the record's patient*
	// (reason PATIENT), not through a consent or as its author; Erased if the
	// record is erased. A patient reading her own record discloses nothing,
	// so it takes no access receipt (docs/architecture.md, "Reading one's own
	// records"); everybody else does.
	OwnAccess(ctx context.Context, addr string, ids []uint64) ([]ReceiptAccess, error)
	// BlobStatus reports whether the record with content hash h was committed
	// by uploader, and whether it is erased.
	BlobStatus(ctx context.Context, h Hash, uploader string) (committed, erased bool, err error)
	// Status reports the node's chain and how current it is; the sweep
	// removes nothing unless the node is the chain it knows, caught up.
	Status(ctx context.Context) (ChainStatus, error)
}

// ReceiptAccess is the chain's answer about one access receipt, or about one
// record its patient reads (OwnAccess).
type ReceiptAccess struct {
	Hash    Hash   // the content hash of the receipt's record
	Author  string // who committed that record
	Allowed bool
	Erased  bool
}

// ChainStatus is what a node says of itself.
type ChainStatus struct {
	ChainID    string
	Height     int64
	BlockTime  time.Time
	CatchingUp bool
}

// Config configures a vault server.
type Config struct {
	// Metrics, if set, is where the vault registers its Prometheus metrics
	// (docs/operations.md, "Metrics"); nil counts them unserved.
	Metrics prometheus.Registerer
	// MaxBlobSize bounds one upload (default 4 GiB, the chain's max_record_size).
	MaxBlobSize int64
	// QuotaBytes bounds what one account may have stored (default 64 GiB).
	QuotaBytes int64
	// ReceiptMaxAge is how fresh an access receipt must be for a download
	// (default 15 minutes).
	ReceiptMaxAge time.Duration
	// UncommittedTTL is how long an upload may stay without an on-chain record
	// before garbage collection removes it (default 24 hours).
	UncommittedTTL time.Duration
	// MinTransferRate is the slowest a client may upload or download, in bytes
	// per second (default 64 KiB/s): a blob of n bytes must be transferred within
	// TransferSlack + n/MinTransferRate, so a stalled or trickling client cannot
	// hold a connection (and, for an upload, its quota reservation) for ever.
	MinTransferRate int64
	// TransferSlack is the fixed part of that allowance (default 1 minute).
	TransferSlack time.Duration
	// QuarantineRetention is how long a never-committed upload stays in
	// quarantine before it is deleted (default 30 days).
	QuarantineRetention time.Duration
	// MaxChainLag is how old the node's latest block may be for the sweep to
	// trust its "not found" (default 2 minutes).
	MaxChainLag time.Duration
	// RateLimit is how many requests per second one account may make on
	// average (default 50), RateBurst how many at once (default 100). Requests
	// of accounts unknown on chain share one such allowance.
	RateLimit float64
	RateBurst int
	// SweepLease is how long the sweeper lease of a store shared by several
	// replicas lasts (default 15 minutes): the replica that holds it renews
	// it at every sweep; if it dies, another takes over once it has expired.
	// Set it above the sweep interval.
	SweepLease time.Duration
	// ChainStateFile remembers the chain id and the highest height this vault
	// has seen (default: none, no memory across restarts). The sweep refuses a
	// node of another chain or below that height.
	ChainStateFile string
}

// Validate refuses negative limits.
func (c Config) Validate() error {
	if c.MaxBlobSize < 0 || c.QuotaBytes < 0 || c.ReceiptMaxAge < 0 || c.UncommittedTTL < 0 || c.MinTransferRate < 0 ||
		c.TransferSlack < 0 || c.QuarantineRetention < 0 || c.MaxChainLag < 0 || c.RateLimit < 0 || c.RateBurst < 0 || c.SweepLease < 0 {
		return errors.New("vault limits must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxBlobSize == 0 {
		c.MaxBlobSize = 4 << 30
	}
	if c.QuotaBytes == 0 {
		c.QuotaBytes = 64 << 30
	}
	if c.ReceiptMaxAge == 0 {
		c.ReceiptMaxAge = 15 * time.Minute
	}
	if c.UncommittedTTL == 0 {
		c.UncommittedTTL = 24 * time.Hour
	}
	if c.MinTransferRate == 0 {
		c.MinTransferRate = 64 << 10
	}
	if c.TransferSlack == 0 {
		c.TransferSlack = time.Minute
	}
	if c.QuarantineRetention == 0 {
		c.QuarantineRetention = 30 * 24 * time.Hour
	}
	if c.MaxChainLag == 0 {
		c.MaxChainLag = 2 * time.Minute
	}
	if c.RateLimit == 0 {
		c.RateLimit = 50
	}
	if c.RateBurst == 0 {
		c.RateBurst = 100
	}
	if c.SweepLease == 0 {
		c.SweepLease = 15 * time.Minute
	}
	return c
}

// transferDeadline is when the transfer of n bytes starting now must be done.
func (c Config) transferDeadline(n int64) time.Time {
	return time.Now().Add(c.TransferSlack + time.Duration(float64(n)/float64(c.MinTransferRate)*float64(time.Second)))
}

// Server is the vault's HTTP service.
type Server struct {
	cfg    Config
	store  Store
	chain  Chain
	verify *Verifier
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	reserved map[string]int64 // bytes of uploads in progress here, per uploader

	// holder names this replica for the sweeper lease of a shared store.
	holder string

	stateMu sync.Mutex
	seen    chainMemory // without a ChainStateFile

	limitMu  sync.Mutex
	limiters map[string]*limiter // by account; "" for accounts unknown on chain

	// batchMemory bounds the bytes of batch uploads held in memory at once.
	batchMemory *semaphore.Weighted

	// leaser is the store's lease, if it is shared (nil for a disk store).
	leaser  Leaser
	metrics *vaultMetrics
}

// BatchMemory is how many bytes of batch uploads a vault holds in memory at
// once: four batches of MaxBatchBytes.
const BatchMemory = 4 * MaxBatchBytes

// limiter is one account's allowance and when it was last used (idle ones are
// dropped, so the map holds only the accounts of the last minutes).
type limiter struct {
	*rate.Limiter
	last time.Time
}

// NewServer returns a server over store. It keeps nothing of its own that
// another replica over the same store would need: blobs, uploaders, usage and
// quarantine are in the store, access in the chain.
func NewServer(_ context.Context, cfg Config, store Store, chain Chain, verifier *Verifier, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := newVaultMetrics(cfg.Metrics)
	leaser, _ := store.(Leaser)
	return &Server{
		cfg: cfg.withDefaults(), store: countedStore{Store: store, errs: m.storeErrors}, chain: chain, verify: verifier, log: log, now: time.Now,
		reserved: map[string]int64{}, limiters: map[string]*limiter{},
		batchMemory: semaphore.NewWeighted(BatchMemory), holder: NewLeaseHolder(),
		leaser: leaser, metrics: m,
	}, nil
}

// Handler returns the HTTP routes: GET /healthz, PUT and GET
// /v1/blobs/{hash}, GET /v1/receipts/{id}/blob, POST /v1/batch/put and
// POST /v1/batch/get (docs/vault.md).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("PUT /v1/blobs/{hash}", s.put)
	mux.HandleFunc("GET /v1/blobs/{hash}", s.get)
	mux.HandleFunc("GET /v1/receipts/{id}/blob", s.getByReceipt)
	mux.HandleFunc("POST /v1/batch/put", s.putBatch)
	mux.HandleFunc("POST /v1/batch/get", s.getBatch)
	return s.logged(s.metrics.http.Wrap(mux))
}

// HTTPServer returns an http.Server for the handler with timeouts, so that a slow
// or stalled client cannot hold connections forever.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	h, addr, ok := s.authenticateBlob(w, r)
	if !ok {
		return
	}
	if r.Header.Get(HeaderContent) != h.String() {
		httpError(w, http.StatusBadRequest, "the signed content hash must be the blob's name")
		return
	}
	if !s.mayUpload(w, r, addr) {
		return
	}
	size := r.ContentLength
	if size < 0 {
		httpError(w, http.StatusLengthRequired, "send Content-Length: uploads are counted against a quota before they are read")
		return
	}
	// The body may not exceed its declared length, nor arrive too slowly.
	if err := http.NewResponseController(w).SetReadDeadline(s.cfg.transferDeadline(size)); err != nil {
		s.log.Warn("cannot bound the upload's duration", "err", err)
	}
	res := s.storeBlob(r.Context(), h, http.MaxBytesReader(w, r.Body, size), size, addr)
	switch {
	case res.err != nil:
		s.internal(w, res.Status, res.Error, res.err)
	case res.Status >= 300:
		httpError(w, res.Status, res.Error)
	case res.Status == http.StatusCreated:
		writeJSON(w, res.Status, res.info)
	default:
		// Content-addressed: a blob already here needs no upload (nor quota).
		// Say so without telling who uploaded it, or when.
		writeJSON(w, res.Status, map[string]any{"hash": res.info.Hash, "size": res.info.Size})
	}
}

// mayUpload answers 403 (or 502) unless addr may upload.
func (s *Server) mayUpload(w http.ResponseWriter, r *http.Request, addr string) bool {
	ok, err := s.chain.MayUpload(r.Context(), addr)
	if err != nil {
		s.internal(w, http.StatusBadGateway, "cannot reach the chain", err)
		return false
	}
	if !ok {
		httpError(w, http.StatusForbidden, "only registered patients and active providers may upload")
	}
	return ok
}

// stored is the outcome of storing one blob: 201 stored, 200 already there,
// or an error status with its message (err set for a fault of the vault).
type stored struct {
	Status int
	Error  string
	info   BlobInfo
	err    error
}

// storeBlob stores the size bytes of body, which must hash to h, as addr's
// upload: it checks the size limit and addr's quota (reserving size while it
// reads, so concurrent uploads cannot together exceed it). A blob already
// stored is not read.
func (s *Server) storeBlob(ctx context.Context, h Hash, body io.Reader, size int64, addr string) stored {
	if size > s.cfg.MaxBlobSize {
		return stored{Status: http.StatusRequestEntityTooLarge, Error: "blob larger than " + strconv.FormatInt(s.cfg.MaxBlobSize, 10) + " bytes"}
	}
	existing, err := s.store.Stat(ctx, h)
	switch {
	case err == nil:
		// Its own uploader sending it again (an interrupted import run again:
		// a resource seals to the same ciphertext) restarts its uncommitted
		// TTL, or the sweep could quarantine it between this upload and its
		// commit. Anyone else's upload changes nothing.
		if existing.Uploader == addr {
			if info, err := s.store.ReplaceUploader(ctx, h, addr, addr, s.now()); err == nil {
				existing = info
			} else {
				s.log.Warn("cannot restart an upload's TTL", "hash", h.String(), "err", err)
			}
		}
		return stored{Status: http.StatusOK, info: existing}
	case errors.Is(err, ErrUnavailable):
		return s.storeFault(err)
	case !errors.Is(err, ErrNotFound):
		return stored{Status: http.StatusInternalServerError, Error: "cannot read the store", err: err}
	}
	// The store's usage counts what every replica has stored; reserved, what
	// this one is storing. Uploads in flight on other replicas are the only
	// ones not counted (docs/vault.md, "Quotas across replicas"). The
	// reservation comes first and the usage is read after it: an upload of
	// this replica that finishes in between is then counted twice (in the
	// snapshot and in the usage: a refusal on the safe side), never not at
	// all (a reservation is released only after its upload is counted).
	s.mu.Lock()
	others := s.reserved[addr]
	s.reserved[addr] += size
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		s.reserved[addr] -= size
		if s.reserved[addr] == 0 {
			delete(s.reserved, addr)
		}
		s.mu.Unlock()
	}
	used, err := s.store.Usage(ctx, addr)
	if err != nil {
		release()
		return s.storeFault(err)
	}
	if used+others+size > s.cfg.QuotaBytes {
		release()
		return stored{Status: http.StatusForbidden, Error: "storage quota of " + strconv.FormatInt(s.cfg.QuotaBytes, 10) + " bytes exceeded"}
	}
	info, created, err := s.store.Put(ctx, h, body, size, addr)
	release()
	var maxErr *http.MaxBytesError
	switch {
	case errors.Is(err, ErrHashMismatch):
		return stored{Status: http.StatusBadRequest, Error: "the content does not hash to " + h.String()}
	case errors.Is(err, ErrTooLarge), errors.As(err, &maxErr):
		return stored{Status: http.StatusRequestEntityTooLarge, Error: "body longer than its Content-Length"}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return stored{Status: http.StatusRequestTimeout, Error: "upload slower than the vault's minimum rate; nothing was stored"}
	case errors.Is(err, ErrUnavailable):
		return s.storeFault(err)
	case err != nil:
		return stored{Status: http.StatusInternalServerError, Error: "cannot store the blob", err: err}
	case !created: // a concurrent upload of the same bytes won the race
		return stored{Status: http.StatusOK, info: info}
	}
	return stored{Status: http.StatusCreated, info: info}
}

// storeFault answers 503 for a store that is down: the message names the
// store (not the error's details, which are logged) and says that nothing was
// stored, so the client retries, here or at another replica.
func (s *Server) storeFault(err error) stored {
	return stored{
		Status: http.StatusServiceUnavailable, err: err,
		Error: "the blob store " + s.store.Name() + " is unavailable; nothing was stored: retry later",
	}
}

// get serves GET /v1/blobs/{hash}: the blob, to an account holding a fresh
// access receipt for the record with that hash (found by scanning the
// record's receipts; GET /v1/receipts/{id}/blob names the receipt instead).
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	h, addr, ok := s.authenticateBlob(w, r)
	if !ok {
		return
	}
	s.serve(w, s.openByHash(r.Context(), addr, h))
}

// getByReceipt serves GET /v1/receipts/{id}/blob: the blob of the record
// that access receipt id is for, if the receipt is the caller's and fresh and
// the chain still allows the read.
func (s *Server) getByReceipt(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		httpError(w, http.StatusBadRequest, "the receipt id must be a positive integer")
		return
	}
	addr, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	s.serve(w, s.openByReceipt(r.Context(), addr, id))
}

// serve answers with an opened blob, or with o's refusal.
func (s *Server) serve(w http.ResponseWriter, o opened) {
	switch {
	case o.err != nil:
		s.internal(w, o.Status, o.Error, o.err)
		return
	case o.Status != http.StatusOK:
		httpError(w, o.Status, o.Error)
		return
	}
	defer o.rc.Close()
	if err := http.NewResponseController(w).SetWriteDeadline(s.cfg.transferDeadline(o.info.Size)); err != nil {
		s.log.Warn("cannot bound the download's duration", "err", err)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(o.info.Size, 10))
	w.Header().Set(HeaderContent, o.info.Hash)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, o.rc)
}

// opened is a blob open for a reader (Status 200, rc set), or why not: an
// error status and message (err set for a fault of the vault or the chain).
type opened struct {
	Status int
	Error  string
	rc     io.ReadCloser
	info   BlobInfo
	err    error
}

var errNoReceipt = "no fresh access receipt of %s for the record with this hash, or its access has ended since " +
	"(revoked consent, suspended provider): send `tx records access` first"

// openByHash opens blob h for addr if addr holds a fresh receipt for the
// record its uploader committed with that hash.
func (s *Server) openByHash(ctx context.Context, addr string, h Hash) opened {
	o := s.open(ctx, h) // its metadata names the uploader the chain is asked about
	if o.Status != http.StatusOK {
		return o
	}
	allowed, erased, err := s.chain.ReadAccess(ctx, addr, h, o.info.Uploader, s.cfg.ReceiptMaxAge)
	switch {
	case err != nil:
		return o.refuse(opened{Status: http.StatusBadGateway, Error: "cannot reach the chain", err: err})
	case erased:
		return o.refuse(opened{Status: http.StatusGone, Error: "the record was erased"})
	case !allowed:
		return o.refuse(opened{Status: http.StatusForbidden, Error: fmt.Sprintf(errNoReceipt, addr)})
	}
	return o
}

// openByReceipt opens the blob of receipt id's record for addr (see
// openReceipts).
func (s *Server) openByReceipt(ctx context.Context, addr string, id uint64) opened {
	return s.openReceipts(ctx, addr, []uint64{id})[0]
}

// openReceipts opens the blob of each receipt's record for addr, asking the
// chain about all of them at once: the receipt must be addr's, at most
// ReceiptMaxAge old, its record not erased, the chain must still allow the
// read now, and the blob must have been uploaded by the record's author (a
// copy of someone else's upload is not served).
func (s *Server) openReceipts(ctx context.Context, addr string, ids []uint64) []opened {
	access, err := s.chain.ReceiptAccess(ctx, addr, ids, s.cfg.ReceiptMaxAge)
	return s.openAllowed(ctx, access, err, len(ids), func(i int) string {
		return fmt.Sprintf("receipt %d is not a fresh access receipt of %s, or "+
			"its access has ended since (revoked consent, suspended provider): send `tx records access` first", ids[i], addr)
	})
}

// openOwn opens the blob of each record for addr reading it as its patient,
// without a receipt (Chain.OwnAccess); the blob must have been uploaded by
// the record's author.
func (s *Server) openOwn(ctx context.Context, addr string, ids []uint64) []opened {
	access, err := s.chain.OwnAccess(ctx, addr, ids)
	return s.openAllowed(ctx, access, err, len(ids), func(i int) string {
		return fmt.Sprintf("%s is not the patient of record %d: only a record's patient reads it without an access receipt; "+
			"send `tx records access` and name the receipt", addr, ids[i])
	})
}

// openAllowed opens the blobs the chain's answers allow (n answers, or err),
// each blob only if the record's author uploaded it; refusal says why an
// answer does not allow.
func (s *Server) openAllowed(ctx context.Context, access []ReceiptAccess, err error, n int, refusal func(int) string) []opened {
	out := make([]opened, n)
	if err == nil && len(access) != n {
		err = fmt.Errorf("the chain answered %d of %d", len(access), n)
	}
	for i := range out {
		if err != nil {
			out[i] = opened{Status: http.StatusBadGateway, Error: "cannot reach the chain", err: err}
			continue
		}
		ra := access[i]
		switch {
		case ra.Erased:
			out[i] = opened{Status: http.StatusGone, Error: "the record was erased"}
			continue
		case !ra.Allowed:
			out[i] = opened{Status: http.StatusForbidden, Error: refusal(i)}
			continue
		}
		out[i] = s.open(ctx, ra.Hash)
		if out[i].Status == http.StatusOK && out[i].info.Uploader != ra.Author {
			out[i] = out[i].refuse(opened{Status: http.StatusForbidden, Error: "this vault's copy of the blob was not uploaded by the record's author"})
		}
	}
	return out
}

// refuse closes the opened blob and answers with why instead.
func (o opened) refuse(why opened) opened {
	_ = o.rc.Close()
	return why
}

// open opens blob h (one store read: the blob and its metadata).
func (s *Server) open(ctx context.Context, h Hash) opened {
	rc, info, err := s.store.Get(ctx, h)
	switch {
	case errors.Is(err, ErrNotFound):
		return opened{Status: http.StatusNotFound, Error: "blob not in this vault"}
	case errors.Is(err, ErrUnavailable):
		return opened{Status: http.StatusServiceUnavailable, Error: "the blob store " + s.store.Name() + " is unavailable: retry later", err: err}
	case err != nil:
		return opened{Status: http.StatusInternalServerError, Error: "cannot read the store", err: err}
	}
	return opened{Status: http.StatusOK, rc: rc, info: info}
}

// authenticate checks the request's signature, then,
// in this order: that the account is known on chain (a registered patient or
// provider), its rate limit (429), and that the request is new (a replay is
// 401). Requests of unknown accounts are refused (403) without being
// remembered, so fresh keys cannot fill the replay cache; a known account's
// request is remembered before any access decision, so one refused now cannot
// be replayed once its receipt lands. On failure it has answered the request.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	sr, err := s.verify.Authenticate(r)
	if err != nil {
		httpError(w, http.StatusUnauthorized, err.Error())
		return "", false
	}
	setAccount(r, sr.Address)
	known, err := s.chain.Known(r.Context(), sr.Address)
	if err != nil {
		s.internal(w, http.StatusBadGateway, "cannot reach the chain", err)
		return "", false
	}
	bucket := sr.Address
	if !known {
		bucket = ""
	}
	if !s.allow(bucket) {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusTooManyRequests, "more than "+strconv.FormatFloat(s.cfg.RateLimit, 'f', -1, 64)+
			" requests per second from "+sr.Address+": slow down and retry")
		return "", false
	}
	if !known {
		httpError(w, http.StatusForbidden, sr.Address+" is neither a registered patient nor a registered provider")
		return "", false
	}
	if err := s.verify.Remember(sr); errors.Is(err, ErrTooManyRequests) {
		w.Header().Set("Retry-After", "60")
		httpError(w, http.StatusTooManyRequests, err.Error())
		return "", false
	} else if err != nil {
		httpError(w, http.StatusUnauthorized, err.Error())
		return "", false
	}
	return sr.Address, true
}

// authenticateBlob parses the blob name of the path, then authenticates.
func (s *Server) authenticateBlob(w http.ResponseWriter, r *http.Request) (Hash, string, bool) {
	h, err := ParseHash(r.PathValue("hash"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return h, "", false
	}
	addr, ok := s.authenticate(w, r)
	return h, addr, ok
}

// allow takes one request from bucket's allowance.
func (s *Server) allow(bucket string) bool {
	now := s.now()
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	l := s.limiters[bucket]
	if l == nil {
		if len(s.limiters) > 1024 { // drop the idle ones now and then
			for k, old := range s.limiters {
				if now.Sub(old.last) > time.Minute {
					delete(s.limiters, k)
				}
			}
		}
		l = &limiter{Limiter: rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst)}
		s.limiters[bucket] = l
	}
	l.last = now
	return l.AllowN(now, 1)
}

// CollectGarbage sweeps the store. It first checks that the node speaks for
// the chain this vault serves (checkChain): a node of another chain, one reset
// or resyncing below the height this vault has seen, or one behind, answers
// "not found" for records that exist, and the sweep then removes nothing.
// Blobs whose uploader's record is erased are deleted (erasure is deletion);
// uploads that no record of their uploader committed within UncommittedTTL
// are moved to quarantine, and quarantined blobs older than
// QuarantineRetention are deleted. Each blob's status is asked again right
// before it is removed. It returns how many blobs it deleted or quarantined; a
// blob it cannot check or remove is logged and left for the next sweep.
func (s *Server) CollectGarbage(ctx context.Context) (int, error) {
	n, err := s.collectGarbage(ctx)
	switch {
	case err == nil:
		s.metrics.sweepRuns.WithLabelValues("done").Inc()
	case errors.Is(err, ErrNotSweeper):
		s.metrics.sweepRuns.WithLabelValues("not_sweeper").Inc()
	default:
		s.metrics.sweepRuns.WithLabelValues("skipped").Inc()
	}
	return n, err
}

func (s *Server) collectGarbage(ctx context.Context) (int, error) {
	// With a shared store, only the lease holder sweeps, and it renews the
	// lease as it goes (a sweep of many blobs can outlast it) and stops the
	// moment it has lost it.
	var leased time.Time
	hold := func() error {
		if s.leaser == nil || s.now().Sub(leased) < s.cfg.SweepLease/4 {
			return nil
		}
		mine, err := s.leaser.Lease(ctx, s.holder, s.cfg.SweepLease)
		if err != nil {
			return err
		}
		if !mine {
			return ErrNotSweeper
		}
		leased = s.now()
		return nil
	}
	if err := hold(); err != nil {
		return 0, err
	}
	if err := s.checkChain(ctx); err != nil {
		return 0, err
	}
	type verdict int
	const (
		keep verdict = iota
		erase
		quarantine
	)
	judge := func(b BlobInfo) (Hash, verdict) {
		h, err := ParseHash(b.Hash)
		if err != nil {
			return h, keep
		}
		committed, erased, err := s.chain.BlobStatus(ctx, h, b.Uploader)
		switch {
		case err != nil:
			s.log.Warn("sweep: cannot ask the chain", "hash", b.Hash, "err", err)
			return h, keep
		case erased:
			return h, erase
		case !committed && s.now().Sub(b.UploadedAt) > s.cfg.UncommittedTTL:
			return h, quarantine
		}
		return h, keep
	}
	var candidates []BlobInfo
	if err := s.store.List(ctx, func(b BlobInfo) error {
		if err := hold(); err != nil {
			return err
		}
		if _, v := judge(b); v != keep {
			candidates = append(candidates, b)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	removed := 0
	for _, b := range candidates {
		if err := hold(); err != nil {
			return removed, err
		}
		h, v := judge(b) // again: a record may have been committed meanwhile
		var err error
		switch v {
		case keep:
			continue
		case erase:
			err = s.store.Delete(ctx, h)
		case quarantine:
			err = s.store.Quarantine(ctx, h)
		}
		if err != nil {
			s.log.Warn("sweep: cannot remove", "hash", b.Hash, "err", err)
			continue
		}
		removed++
		if v == erase {
			s.metrics.sweep.WithLabelValues("deleted").Inc()
		} else {
			s.metrics.sweep.WithLabelValues("quarantined").Inc()
		}
		if v == erase {
			s.log.Info("deleted the blob of an erased record", "hash", b.Hash, "size", b.Size)
		} else {
			s.log.Info("quarantined an upload no record committed", "hash", b.Hash, "size", b.Size,
				"uploader", b.Uploader, "uploaded_at", b.UploadedAt, "deleted_after", s.cfg.QuarantineRetention.String())
		}
	}
	purged, err := s.store.PurgeQuarantine(ctx, s.now().Add(-s.cfg.QuarantineRetention))
	if err != nil {
		s.log.Warn("sweep: cannot purge the quarantine", "err", err)
	} else if purged > 0 {
		s.metrics.sweep.WithLabelValues("purged").Add(float64(purged))
		s.log.Info("deleted quarantined uploads past their retention", "count", purged)
	}
	return removed, nil
}

// ErrNotSweeper is returned by CollectGarbage in a replica that does not hold
// the shared store's sweeper lease: another replica sweeps.
var ErrNotSweeper = errors.New("another replica holds the sweeper lease")

// ErrChainUnfit is returned by CollectGarbage when the node cannot be trusted
// to say what is committed; the sweep then removed nothing.
var ErrChainUnfit = errors.New("the node cannot vouch for the chain: nothing swept")

// chainMemory is what ChainStateFile holds.
type chainMemory struct {
	ChainID string `json:"chain_id"`
	Height  int64  `json:"height"`
}

// checkChain refuses a node that is catching up, whose latest block is older
// than MaxChainLag, of another chain than the one this vault first swept
// against, or below the highest height it has seen; otherwise it remembers the
// height.
func (s *Server) checkChain(ctx context.Context) error {
	st, err := s.chain.Status(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrChainUnfit, err)
	}
	if st.CatchingUp {
		return fmt.Errorf("%w: the node is catching up (height %d)", ErrChainUnfit, st.Height)
	}
	if lag := s.now().Sub(st.BlockTime); lag > s.cfg.MaxChainLag {
		return fmt.Errorf("%w: the node's latest block (height %d) is %s old", ErrChainUnfit, st.Height, lag.Round(time.Second))
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	var mem chainMemory
	if s.cfg.ChainStateFile != "" {
		raw, err := os.ReadFile(s.cfg.ChainStateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("%w: %w", ErrChainUnfit, err)
		default:
			if err := json.Unmarshal(raw, &mem); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrChainUnfit, s.cfg.ChainStateFile, err)
			}
		}
	} else {
		mem = s.seen
	}
	if mem.ChainID != "" && mem.ChainID != st.ChainID {
		return fmt.Errorf("%w: the node is on chain %q, this vault serves %q", ErrChainUnfit, st.ChainID, mem.ChainID)
	}
	if st.Height < mem.Height {
		return fmt.Errorf("%w: the node is at height %d, below the %d this vault has seen (reset or resyncing?)",
			ErrChainUnfit, st.Height, mem.Height)
	}
	mem = chainMemory{ChainID: st.ChainID, Height: st.Height}
	s.seen = mem
	if s.cfg.ChainStateFile == "" {
		return nil
	}
	raw, _ := json.Marshal(mem)
	dir := filepath.Dir(s.cfg.ChainStateFile)
	if err := writeFileSync(s.cfg.ChainStateFile, dir, raw); err != nil {
		return fmt.Errorf("%w: %w", ErrChainUnfit, err)
	}
	return nil
}

// internal answers a failure without its details (paths, peer errors), which
// go to the log instead.
func (s *Server) internal(w http.ResponseWriter, status int, msg string, err error) {
	s.log.Error(msg, "err", err)
	httpError(w, status, msg)
}

type accountKey struct{}

// setAccount records the authenticated account for the access log.
func setAccount(r *http.Request, addr string) {
	if p, ok := r.Context().Value(accountKey{}).(*string); ok {
		*p = addr
	}
}

// logged writes one structured log line per request: method, path, status,
// account, bytes, duration. Never bodies, never headers.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		var account string
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), accountKey{}, &account)))
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"account", account, "bytes", rec.bytes, "duration_ms", s.now().Sub(start).Milliseconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// Unwrap lets http.ResponseController reach the connection (transfer deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
