package vault

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Chain is what the vault asks the healthd chain.
type Chain interface {
	// MayUpload reports whether addr is a registered patient or an active provider.
	MayUpload(ctx context.Context, addr string) (bool, error)
	// ReadAccess reports whether addr holds an access receipt, at most maxAge old,
	// for a record with content hash h that is not erased; erased is true when
	// every record with that hash is erased.
	ReadAccess(ctx context.Context, addr string, h Hash, maxAge time.Duration) (allowed, erased bool, err error)
	// BlobStatus reports whether any record commits to h, and whether all of
	// those records are erased.
	BlobStatus(ctx context.Context, h Hash) (committed, erased bool, err error)
}

// Config configures a vault server.
type Config struct {
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
	return c
}

// Server is the vault's HTTP service.
type Server struct {
	cfg    Config
	store  Store
	chain  Chain
	verify *Verifier
	log    *slog.Logger
	now    func() time.Time

	mu    sync.Mutex
	usage map[string]int64 // bytes stored per uploader
}

// NewServer returns a server over store; it reads the store once to know each
// uploader's usage.
func NewServer(ctx context.Context, cfg Config, store Store, chain Chain, verifier *Verifier, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg.withDefaults(), store: store, chain: chain, verify: verifier, log: log, now: time.Now, usage: map[string]int64{}}
	err := store.List(ctx, func(b BlobInfo) error {
		s.usage[b.Uploader] += b.Size
		return nil
	})
	return s, err
}

// Handler returns the HTTP routes: GET /healthz, PUT and GET /v1/blobs/{hash}.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("PUT /v1/blobs/{hash}", s.put)
	mux.HandleFunc("GET /v1/blobs/{hash}", s.get)
	return s.logged(mux)
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
	h, addr, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if r.Header.Get(HeaderContent) != h.String() {
		httpError(w, http.StatusBadRequest, "the signed content hash must be the blob's name")
		return
	}
	ok, err := s.chain.MayUpload(r.Context(), addr)
	if err != nil {
		httpError(w, http.StatusBadGateway, "cannot reach the chain: "+err.Error())
		return
	}
	if !ok {
		httpError(w, http.StatusForbidden, "only registered patients and active providers may upload")
		return
	}
	size := r.ContentLength
	if size > s.cfg.MaxBlobSize {
		httpError(w, http.StatusRequestEntityTooLarge, "blob larger than "+strconv.FormatInt(s.cfg.MaxBlobSize, 10)+" bytes")
		return
	}
	s.mu.Lock()
	over := s.usage[addr]+max(size, 0) > s.cfg.QuotaBytes
	s.mu.Unlock()
	if over {
		httpError(w, http.StatusForbidden, "storage quota of "+strconv.FormatInt(s.cfg.QuotaBytes, 10)+" bytes exceeded")
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBlobSize)
	info, created, err := s.store.Put(r.Context(), h, body, s.cfg.MaxBlobSize, addr)
	var maxErr *http.MaxBytesError
	switch {
	case errors.Is(err, ErrHashMismatch):
		httpError(w, http.StatusBadRequest, "the content does not hash to "+h.String())
		return
	case errors.Is(err, ErrTooLarge), errors.As(err, &maxErr):
		httpError(w, http.StatusRequestEntityTooLarge, "blob larger than the limit")
		return
	case err != nil:
		httpError(w, http.StatusInternalServerError, "store: "+err.Error())
		return
	}
	if created {
		s.mu.Lock()
		s.usage[addr] += info.Size
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	h, addr, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	allowed, erased, err := s.chain.ReadAccess(r.Context(), addr, h, s.cfg.ReceiptMaxAge)
	switch {
	case err != nil:
		httpError(w, http.StatusBadGateway, "cannot reach the chain: "+err.Error())
		return
	case erased:
		httpError(w, http.StatusGone, "the record was erased")
		return
	case !allowed:
		httpError(w, http.StatusForbidden, "no fresh access receipt of "+addr+" for a record with this hash: send `tx records access` first")
		return
	}
	rc, info, err := s.store.Get(r.Context(), h)
	if errors.Is(err, ErrNotFound) {
		httpError(w, http.StatusNotFound, "blob not in this vault")
		return
	} else if err != nil {
		httpError(w, http.StatusInternalServerError, "store: "+err.Error())
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.Header().Set(HeaderContent, h.String())
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
}

// authenticate parses the blob name and checks the request's signature; on
// failure it has answered the request.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (Hash, string, bool) {
	h, err := ParseHash(r.PathValue("hash"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return h, "", false
	}
	addr, err := s.verify.Verify(r)
	if err != nil {
		httpError(w, http.StatusUnauthorized, err.Error())
		return h, "", false
	}
	setAccount(r, addr)
	return h, addr, true
}

// CollectGarbage deletes blobs whose records are all erased, and uploads that no
// record committed to within UncommittedTTL. It returns how many it deleted.
func (s *Server) CollectGarbage(ctx context.Context) (int, error) {
	var doomed []BlobInfo
	err := s.store.List(ctx, func(b BlobInfo) error {
		h, err := ParseHash(b.Hash)
		if err != nil {
			return nil
		}
		committed, erased, err := s.chain.BlobStatus(ctx, h)
		if err != nil {
			return err
		}
		if erased || !committed && s.now().Sub(b.UploadedAt) > s.cfg.UncommittedTTL {
			doomed = append(doomed, b)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, b := range doomed {
		h, _ := ParseHash(b.Hash)
		if err := s.store.Delete(ctx, h); err != nil {
			return 0, err
		}
		s.mu.Lock()
		s.usage[b.Uploader] -= b.Size
		s.mu.Unlock()
		s.log.Info("deleted blob", "hash", b.Hash, "size", b.Size)
	}
	return len(doomed), nil
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
