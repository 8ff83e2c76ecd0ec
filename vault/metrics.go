package vault

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/healthd-chain/healthd/internal/metrics"
)

// vaultMetrics are the vault's Prometheus metrics beside its HTTP request
// metrics (internal/metrics): store errors by operation and what the sweep
// did. No label carries a hash, account or path.
type vaultMetrics struct {
	http        *metrics.HTTP
	storeErrors *prometheus.CounterVec
	sweep       *prometheus.CounterVec
	sweepRuns   *prometheus.CounterVec
}

func newVaultMetrics(reg prometheus.Registerer) *vaultMetrics {
	if reg == nil {
		reg = prometheus.NewRegistry() // counted, not served
	}
	m := &vaultMetrics{
		http: metrics.NewHTTP(reg, "vault"),
		storeErrors: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "vault", Name: "store_errors_total",
			Help: "Store operations that failed for a reason other than the request (not found, too large, hash mismatch, cancelled), by operation.",
		}, []string{"op"})),
		sweep: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "vault", Name: "sweep_blobs_total",
			Help: "Blobs the garbage sweep removed: deleted (erased record), quarantined (never committed), purged (quarantine past retention).",
		}, []string{"action"})),
		sweepRuns: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "vault", Name: "sweeps_total",
			Help: "Garbage sweeps by result: done, not_sweeper (another replica holds the lease), skipped (the node is unfit or unreachable).",
		}, []string{"result"})),
	}
	for _, op := range []string{"usage", "put", "get", "stat", "delete", "list", "quarantine", "purge"} {
		m.storeErrors.WithLabelValues(op)
	}
	for _, action := range []string{"deleted", "quarantined", "purged"} {
		m.sweep.WithLabelValues(action)
	}
	for _, result := range []string{"done", "not_sweeper", "skipped"} {
		m.sweepRuns.WithLabelValues(result)
	}
	return m
}

// countedStore counts a store's unexpected errors.
type countedStore struct {
	Store
	errs *prometheus.CounterVec
}

func (c countedStore) count(op string, err error) {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrHashMismatch) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	c.errs.WithLabelValues(op).Inc()
}

func (c countedStore) Usage(ctx context.Context, uploader string) (int64, error) {
	n, err := c.Store.Usage(ctx, uploader)
	c.count("usage", err)
	return n, err
}

func (c countedStore) Put(ctx context.Context, h Hash, r io.Reader, size int64, uploader string) (BlobInfo, bool, error) {
	info, created, err := c.Store.Put(ctx, h, r, size, uploader)
	c.count("put", err)
	return info, created, err
}

func (c countedStore) PutAt(ctx context.Context, h Hash, r io.Reader, size int64, uploader string, at time.Time) (BlobInfo, bool, error) {
	info, created, err := c.Store.PutAt(ctx, h, r, size, uploader, at)
	c.count("put", err)
	return info, created, err
}

func (c countedStore) Get(ctx context.Context, h Hash) (io.ReadCloser, BlobInfo, error) {
	rc, info, err := c.Store.Get(ctx, h)
	c.count("get", err)
	return rc, info, err
}

func (c countedStore) Stat(ctx context.Context, h Hash) (BlobInfo, error) {
	info, err := c.Store.Stat(ctx, h)
	c.count("stat", err)
	return info, err
}

func (c countedStore) Delete(ctx context.Context, h Hash) error {
	err := c.Store.Delete(ctx, h)
	c.count("delete", err)
	return err
}

func (c countedStore) List(ctx context.Context, fn func(BlobInfo) error) error {
	err := c.Store.List(ctx, fn)
	c.count("list", err)
	return err
}

func (c countedStore) Quarantine(ctx context.Context, h Hash) error {
	err := c.Store.Quarantine(ctx, h)
	c.count("quarantine", err)
	return err
}

func (c countedStore) PurgeQuarantine(ctx context.Context, before time.Time) (int, error) {
	n, err := c.Store.PurgeQuarantine(ctx, before)
	c.count("purge", err)
	return n, err
}
