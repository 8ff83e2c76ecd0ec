package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// Usage counters of the S3 store. S3 has no atomic increment, so each
// uploader's usage is one small object, <prefix>usage/<hex(uploader)>, holding
// {"bytes": n}, changed by compare-and-swap: read it with its ETag, write the
// new value with If-Match (If-None-Match: * for the first), and start over on
// 412. Every replica therefore sees every other's stored blobs at once; what
// it cannot see are the uploads in flight on the others (docs/vault.md).
//
// One replica sends at most one swap per uploader at a time: the deltas of
// puts that finish meanwhile are added up and carried by the next swap (group
// commit), so a busy uploader costs one round trip per swap, not per blob.

// usageDoc is a usage counter's content. Swap names the last swap that wrote
// it, so that a swap whose answer was lost can tell whether it landed.
type usageDoc struct {
	Bytes int64  `json:"bytes"`
	Swap  string `json:"swap,omitempty"`
}

// tally is one uploader's counter within this replica.
type tally struct {
	mu      sync.Mutex
	cond    *sync.Cond
	pending int64  // not yet sent
	next    uint64 // the swap that will carry pending
	done    uint64 // swaps finished
	busy    bool
	err     error // of the last swap
}

// Usage implements Store: the uploader's counter.
func (s *S3Store) Usage(ctx context.Context, uploader string) (int64, error) {
	doc, _, err := s.readUsage(ctx, uploader)
	return doc.Bytes, err
}

// readUsage reads uploader's counter and its ETag ("" if there is none yet).
func (s *S3Store) readUsage(ctx context.Context, uploader string) (usageDoc, string, error) {
	var doc usageDoc
	etag, err := s.readSmall(ctx, s.usageKey(uploader), &doc)
	var bad *json.SyntaxError
	var wrong *json.UnmarshalTypeError
	if errors.As(err, &bad) || errors.As(err, &wrong) {
		// A damaged counter counts as 0 (and the next swap replaces it),
		// rather than lock the account out; a recount sets it right.
		s.log.Warn("a usage counter is damaged: counting from 0; run `healthd vault recount`", "store", s.name, "key", s.usageKey(uploader))
		etag, err = s.damagedETag(ctx, s.usageKey(uploader))
		return usageDoc{}, etag, err
	}
	return doc, etag, err
}

// readSmall reads the small JSON object key into v, and its ETag, in one
// request (minio-go's lazy object reader would read the content in a second
// request bound to the first one's ETag, which fails with 412 when another
// replica changes the object in between). An absent object leaves v alone
// and has the ETag "".
func (s *S3Store) readSmall(ctx context.Context, key string, v any) (string, error) {
	body, info, _, err := minio.Core{Client: s.c}.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if isNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", s.fault(err)
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, 1<<10))
	if err != nil {
		return "", s.fault(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return info.ETag, nil
}

// count adds delta to uploader's counter; it returns once a swap carrying
// delta has been written (or failed).
func (s *S3Store) count(ctx context.Context, uploader string, delta int64) error {
	s.talliesMu.Lock()
	t := s.tallies[uploader]
	if t == nil {
		t = &tally{}
		t.cond = sync.NewCond(&t.mu)
		s.tallies[uploader] = t
	}
	s.talliesMu.Unlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending += delta
	mine := t.next
	for t.done <= mine {
		if t.busy {
			t.cond.Wait()
			continue
		}
		// Lead the next swap, carrying everything pending.
		t.busy = true
		d := t.pending
		t.pending = 0
		t.next++
		t.mu.Unlock()
		err := s.swapUsage(context.WithoutCancel(ctx), uploader, d)
		t.mu.Lock()
		t.busy = false
		t.done++
		t.err = err
		t.cond.Broadcast()
	}
	return t.err
}

// swapUsage adds delta to uploader's counter by compare-and-swap.
func (s *S3Store) swapUsage(ctx context.Context, uploader string, delta int64) error {
	if delta == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var id [12]byte
	_, _ = rand.Read(id[:])
	swap := hex.EncodeToString(id[:])
	failures := 0
	for backoff := 5 * time.Millisecond; ; backoff = min(2*backoff, 500*time.Millisecond) {
		doc, etag, err := s.readUsage(ctx, uploader)
		if err != nil {
			return err
		}
		if doc.Swap == swap {
			return nil // an earlier attempt landed; its answer was lost
		}
		doc.Bytes += delta
		if doc.Bytes < 0 { // counted short before (a crash between store and count)
			s.log.Warn("a usage counter would go below 0: set to 0; run `healthd vault recount`", "store", s.name)
			doc.Bytes = 0
		}
		doc.Swap = swap
		// Sent once: the loop itself retries, after reading what landed.
		err = s.swapSmall(ctx, s.usageKey(uploader), doc, etag)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case isPreconditionFailed(err) || isConflict(err):
			// another replica swapped first: read again
		default:
			if failures++; failures > 3 {
				return s.fault(err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

func isConflict(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == "ConditionalRequestConflict" || resp.StatusCode == 409
}

// Recount sets every uploader's counter to the sum of its stored blobs,
// listing the whole store (a HEAD per blob). Use it after a migration, or
// when counters went short (a replica killed between storing a blob and
// counting it). A counter another replica changes during the recount is
// left as it is, and reported. An upload published but not yet counted when
// the listing reaches it is counted twice (by the recount, then by its own
// swap): run it when uploads are quiet.
func (s *S3Store) Recount(ctx context.Context) (changed int, err error) {
	before := map[string]string{} // uploader → ETag of its counter before listing
	sums := map[string]int64{}
	if err := s.List(ctx, func(b BlobInfo) error {
		if _, ok := before[b.Uploader]; !ok {
			_, etag, err := s.readUsage(ctx, b.Uploader)
			if err != nil {
				return err
			}
			before[b.Uploader] = etag
		}
		sums[b.Uploader] += b.Size
		return nil
	}); err != nil {
		return 0, err
	}
	// counters of accounts that no longer have blobs go to 0
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "usage/", Recursive: true}) {
		if obj.Err != nil {
			return 0, s.fault(obj.Err)
		}
		raw, err := hex.DecodeString(strings.TrimPrefix(obj.Key, s.prefix+"usage/"))
		if err != nil {
			continue // not ours
		}
		if _, ok := sums[string(raw)]; !ok {
			sums[string(raw)] = 0
			if before[string(raw)], err = s.damagedETag(ctx, obj.Key); err != nil {
				return 0, err
			}
		}
	}
	var busy []string
	for uploader, sum := range sums {
		doc, etag, err := s.readUsage(ctx, uploader)
		if err != nil {
			return changed, err
		}
		if etag != before[uploader] {
			busy = append(busy, uploader)
			continue
		}
		if doc.Bytes == sum {
			continue
		}
		err = s.swapSmall(ctx, s.usageKey(uploader), usageDoc{Bytes: sum}, etag)
		if isPreconditionFailed(err) || isConflict(err) {
			busy = append(busy, uploader)
			continue
		} else if err != nil {
			return changed, s.fault(err)
		}
		changed++
	}
	if len(busy) > 0 {
		return changed, fmt.Errorf("%d counters changed during the recount and were left as they are: run it again", len(busy))
	}
	return changed, nil
}

// The sweeper lease: <prefix>sweeper.json names the replica that sweeps and
// until when. A replica takes it if there is none, if it has expired, or if it
// is its own (renewal), by compare-and-swap, so at most one replica holds it.

type leaseDoc struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// Lease implements Leaser.
func (s *S3Store) Lease(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	key := s.prefix + "sweeper.json"
	var cur leaseDoc
	etag, err := s.readSmall(ctx, key, &cur)
	var bad *json.SyntaxError
	if errors.As(err, &bad) {
		cur = leaseDoc{} // a damaged lease is taken over (etag: see below)
		etag, err = s.damagedETag(ctx, key)
	}
	if err != nil {
		return false, err
	}
	now := s.now()
	if etag != "" && cur.Holder != holder && now.Before(cur.Until) {
		return false, nil
	}
	err = s.swapSmall(ctx, key, leaseDoc{Holder: holder, Until: now.Add(ttl).UTC()}, etag)
	if isPreconditionFailed(err) || isConflict(err) {
		return false, nil
	} else if err != nil {
		return false, s.fault(err)
	}
	return true, nil
}

// swapSmall writes v as the JSON object key if the object is still the one
// with etag (absent, for ""): a compare-and-swap, sent once (no client
// retries: a retried swap whose first attempt landed would be refused as if
// another writer had come first). It returns the store's error, 412 included.
func (s *S3Store) swapSmall(ctx context.Context, key string, v any, etag string) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	opts := minio.PutObjectOptions{ContentType: "application/json"}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(etag)
	}
	_, err = s.once.PutObject(ctx, s.bucket, key, strings.NewReader(string(raw)), int64(len(raw)), opts)
	return err
}

// damagedETag is the ETag of an object whose content is not what it should
// be, so that it can be replaced by compare-and-swap.
func (s *S3Store) damagedETag(ctx context.Context, key string) (string, error) {
	oi, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if isNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", s.fault(err)
	}
	return oi.ETag, nil
}

// NewLeaseHolder returns a name for this process as a lease holder.
func NewLeaseHolder() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "vault-" + hex.EncodeToString(b[:])
}

var _ Leaser = (*S3Store)(nil)
