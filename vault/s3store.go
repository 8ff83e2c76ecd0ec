package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config names an S3-compatible bucket (Ceph RGW, SeaweedFS, AWS S3, …).
type S3Config struct {
	Endpoint  string // host:port
	Bucket    string
	Prefix    string // key prefix inside the bucket ("" or ending in /)
	Region    string
	AccessKey string
	SecretKey string
	TLS       bool
	// PathStyle addresses the bucket in the path (endpoint/bucket/key), as
	// most self-hosted stores want; otherwise it is a virtual host.
	PathStyle bool
	// Log, if set, receives what the store cannot report through an error
	// (an upload stored but not counted).
	Log *slog.Logger
}

// S3Store keeps blobs as objects of an S3-compatible bucket, so that several
// vault replicas can serve the same blobs: <prefix>blobs/<hash> with the
// uploader and upload time as object metadata, <prefix>quarantine/<hash>, and
// uploads in progress under <prefix>tmp/. An upload is written to a temporary
// object, hashed as it is sent, and copied to its name only if it hashes to
// it, so no reader ever sees a partial or wrong blob.
type S3Store struct {
	c      *minio.Client
	once   *minio.Client // the same, without retries: for conditional writes
	log    *slog.Logger
	bucket string
	prefix string
	name   string // s3://endpoint/bucket/prefix, for messages
	now    func() time.Time

	talliesMu sync.Mutex
	tallies   map[string]*tally // usage counters being written, by uploader
}

// Object metadata keys (minio-go sends them as X-Amz-Meta-*).
const (
	metaUploader   = "Uploader"
	metaUploadedAt = "Uploaded-At"
)

// NewS3Store connects to cfg's bucket, which must exist.
func NewS3Store(ctx context.Context, cfg S3Config) (*S3Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("the S3 store needs an endpoint and a bucket")
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	opts := func(retries int) *minio.Options {
		return &minio.Options{
			Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: cfg.TLS,
			Region: cfg.Region, BucketLookup: lookup, MaxRetries: retries,
		}
	}
	// Few retries: a store that is down is reported (503) within seconds,
	// not after the client's default ten attempts.
	c, err := minio.New(cfg.Endpoint, opts(3))
	if err != nil {
		return nil, err
	}
	once, err := minio.New(cfg.Endpoint, opts(1))
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &S3Store{
		c: c, once: once, log: log, bucket: cfg.Bucket, prefix: cfg.Prefix, now: time.Now, tallies: map[string]*tally{},
		name: "s3://" + cfg.Endpoint + "/" + cfg.Bucket + "/" + cfg.Prefix,
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, s.fault(err)
	}
	if !ok {
		return nil, fmt.Errorf("object store %s has no bucket %q: create it first", cfg.Endpoint, cfg.Bucket)
	}
	if err := s.probeConditionalWrites(ctx); errors.Is(err, ErrUnavailable) {
		// The store takes no writes now (a volume server down, say): the vault
		// can still serve reads, and its uploads fail with 503 until the store
		// is back; whether it honours conditional writes is checked at the
		// next start.
		s.log.Warn("cannot check that the object store honours conditional writes: it takes no writes now", "store", s.name, "err", err)
	} else if err != nil {
		return nil, err
	}
	return s, nil
}

// probeConditionalWrites checks that the store honours If-None-Match on put
// and on copy: the first-uploader rule, the usage counters and the sweeper
// lease depend on it, and a store that ignored it would let a later upload
// take over a blob's uploader (and the sweep then quarantine a committed
// record's blob).
func (s *S3Store) probeConditionalWrites(ctx context.Context) error {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	key := s.prefix + "tmp/probe-" + hex.EncodeToString(nonce[:])
	defer func() { _ = s.c.RemoveObject(context.WithoutCancel(ctx), s.bucket, key, minio.RemoveObjectOptions{}) }()
	put := func() error {
		o := minio.PutObjectOptions{ContentType: "text/plain"}
		o.SetMatchETagExcept("*")
		_, err := s.once.PutObject(ctx, s.bucket, key, strings.NewReader("probe"), 5, o)
		return err
	}
	if err := put(); err != nil {
		return s.fault(err)
	}
	err := put()
	if err == nil {
		return fmt.Errorf("object store %s does not honour If-None-Match on PUT: healthd's vault needs conditional writes "+
			"(AWS S3, MinIO, Ceph RGW and SeaweedFS have them)", s.name)
	} else if !isPreconditionFailed(err) {
		return s.fault(err)
	}
	_, err = minio.Core{Client: s.once}.CopyObject(ctx, s.bucket, key, s.bucket, key, map[string]string{
		"x-amz-metadata-directive": "REPLACE", "If-None-Match": "*",
	}, minio.CopySrcOptions{}, minio.PutObjectOptions{})
	if err == nil {
		return fmt.Errorf("object store %s does not honour If-None-Match on CopyObject: healthd's vault needs it "+
			"to record the first uploader of a blob", s.name)
	} else if !isPreconditionFailed(err) {
		return s.fault(err)
	}
	return nil
}

// Name implements Store: s3://endpoint/bucket/prefix.
func (s *S3Store) Name() string { return s.name }

// fault wraps an error of the object store as ErrUnavailable, naming it.
func (s *S3Store) fault(err error) error {
	return &UnavailableError{Store: s.name, Err: err}
}

func (s *S3Store) blobKey(h Hash) string       { return s.prefix + "blobs/" + h.String() }
func (s *S3Store) quarantineKey(h Hash) string { return s.prefix + "quarantine/" + h.String() }
func (s *S3Store) usageKey(uploader string) string {
	return s.prefix + "usage/" + hex.EncodeToString([]byte(uploader))
}

// Put implements Store.
func (s *S3Store) Put(ctx context.Context, h Hash, r io.Reader, size int64, uploader string) (BlobInfo, bool, error) {
	return s.PutAt(ctx, h, r, size, uploader, s.now())
}

// PutAt implements Store.
func (s *S3Store) PutAt(ctx context.Context, h Hash, r io.Reader, size int64, uploader string, at time.Time) (BlobInfo, bool, error) {
	if info, err := s.Stat(ctx, h); err == nil {
		return info, false, nil // content-addressed: the same name is the same bytes
	} else if !errors.Is(err, ErrNotFound) {
		return BlobInfo{}, false, err
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return BlobInfo{}, false, err
	}
	tmp := s.prefix + "tmp/" + hex.EncodeToString(nonce[:])
	hasher := sha256.New()
	body := &countingReader{r: io.TeeReader(io.LimitReader(r, size), hasher)}
	// The size is sent: with an unknown one, minio-go streams a multipart
	// upload through 16 MiB buffers, which made a 4 KiB put cost ~70 ms.
	// Above the part size, one part at a time is buffered (8 MiB per upload).
	_, err := s.c.PutObject(ctx, s.bucket, tmp, body, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream", PartSize: 8 << 20, NumThreads: 1,
	})
	defer func() { _ = s.c.RemoveObject(context.WithoutCancel(ctx), s.bucket, tmp, minio.RemoveObjectOptions{}) }()
	n, eof, bodyErr := body.state()
	switch {
	case bodyErr != nil: // the client's body failed (too slow, too long for its Content-Length)
		return BlobInfo{}, false, bodyErr
	case err != nil && eof && n < size && ctx.Err() == nil:
		return BlobInfo{}, false, io.ErrUnexpectedEOF // the body ended early
	case err != nil && ctx.Err() == nil: // the store failed while reading it
		return BlobInfo{}, false, s.fault(err)
	case err != nil:
		return BlobInfo{}, false, err
	case hasMore(r):
		return BlobInfo{}, false, ErrTooLarge
	case Hash(hasher.Sum(nil)) != h:
		return BlobInfo{}, false, ErrHashMismatch
	}
	// Publish with If-None-Match: the store creates the name only if it is
	// absent, atomically, so of concurrent uploads of the same bytes (on any
	// replica) the first to publish is the recorded uploader and the others
	// are told 412 and find it stored.
	info := BlobInfo{Hash: h.String(), Size: n, Uploader: uploader, UploadedAt: at.UTC()}
	// Sent once (no client retries): a retried copy whose first attempt
	// succeeded would get 412 and take our own blob for someone else's.
	_, err = minio.Core{Client: s.once}.CopyObject(ctx, s.bucket, tmp, s.bucket, s.blobKey(h), map[string]string{
		"x-amz-metadata-directive":     "REPLACE",
		"Content-Type":                 "application/octet-stream",
		"x-amz-meta-" + metaUploader:   uploader,
		"x-amz-meta-" + metaUploadedAt: info.UploadedAt.Format(time.RFC3339Nano),
		"If-None-Match":                "*",
	}, minio.CopySrcOptions{}, minio.PutObjectOptions{})
	if err != nil {
		// 412: someone else published first. Any other error: the copy may
		// or may not have happened (a lost answer). Either way the stored
		// object says whose it is: ours if it carries our uploader and time.
		existing, serr := s.Stat(ctx, h)
		switch {
		case serr == nil && existing.Uploader == uploader && existing.UploadedAt.Equal(info.UploadedAt):
			// ours after all: count it below
		case serr == nil && isPreconditionFailed(err):
			return existing, false, nil
		default:
			return BlobInfo{}, false, s.fault(err)
		}
	}
	// If counting fails the blob is stored but not counted: the uploader's
	// usage is short by it until a recount (docs/vault.md, "Quotas across
	// replicas").
	if err := s.count(ctx, uploader, info.Size); err != nil {
		s.log.Warn("an upload is stored but not counted in its uploader's usage: run `healthd vault recount`",
			"store", s.name, "err", err)
	}
	return info, true, nil
}

// countingReader counts what it reads, whether its source ended, and its
// source's first error other than EOF. The HTTP transport may still be reading
// it when a request fails early, so its state is behind a mutex.
type countingReader struct {
	r   io.Reader
	mu  sync.Mutex
	n   int64
	eof bool
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(n)
	switch {
	case err == io.EOF:
		c.eof = true
	case err != nil && c.err == nil:
		c.err = err
	}
	return n, err
}

func (c *countingReader) state() (int64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.eof, c.err
}

// hasMore reports whether r yields another byte.
func hasMore(r io.Reader) bool {
	var one [1]byte
	n, _ := io.ReadFull(r, one[:])
	return n > 0
}

// Get implements Store: one GET, whose headers carry the metadata.
func (s *S3Store) Get(ctx context.Context, h Hash) (io.ReadCloser, BlobInfo, error) {
	body, oi, _, err := minio.Core{Client: s.c}.GetObject(ctx, s.bucket, s.blobKey(h), minio.GetObjectOptions{})
	if isNotFound(err) {
		return nil, BlobInfo{}, ErrNotFound
	} else if err != nil {
		return nil, BlobInfo{}, s.fault(err)
	}
	return body, infoOf(h, oi), nil
}

// Stat implements Store.
func (s *S3Store) Stat(ctx context.Context, h Hash) (BlobInfo, error) {
	oi, err := s.c.StatObject(ctx, s.bucket, s.blobKey(h), minio.StatObjectOptions{})
	if isNotFound(err) {
		return BlobInfo{}, ErrNotFound
	} else if err != nil {
		return BlobInfo{}, s.fault(err)
	}
	return infoOf(h, oi), nil
}

// infoOf reads a blob's information from its object's metadata.
func infoOf(h Hash, oi minio.ObjectInfo) BlobInfo {
	at, _ := time.Parse(time.RFC3339Nano, oi.UserMetadata[metaUploadedAt])
	return BlobInfo{Hash: h.String(), Size: oi.Size, Uploader: oi.UserMetadata[metaUploader], UploadedAt: at}
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	resp := minio.ToErrorResponse(err)
	return resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey"
}

func isPreconditionFailed(err error) bool {
	if err == nil {
		return false
	}
	resp := minio.ToErrorResponse(err)
	return resp.StatusCode == http.StatusPreconditionFailed || resp.Code == "PreconditionFailed"
}

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, h Hash) error {
	info, err := s.Stat(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, s.blobKey(h), minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return s.fault(err)
	}
	if err := s.count(ctx, info.Uploader, -info.Size); err != nil {
		s.log.Warn("a removed blob is still counted in its uploader's usage: run `healthd vault recount`", "store", s.name, "err", err)
	}
	return nil
}

// List implements Store: one metadata read per blob (S3 lists carry no user
// metadata), so a vault with millions of blobs takes a while to start.
func (s *S3Store) List(ctx context.Context, fn func(BlobInfo) error) error {
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "blobs/", Recursive: true}) {
		if obj.Err != nil {
			return s.fault(obj.Err)
		}
		h, err := ParseHash(strings.TrimPrefix(obj.Key, s.prefix+"blobs/"))
		if err != nil {
			continue // not ours
		}
		info, err := s.Stat(ctx, h)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the listing
		} else if err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Quarantine implements Store: the object moves to quarantine/<hash> (copy,
// then delete), keeping its metadata; the copy's time is the quarantine time.
func (s *S3Store) Quarantine(ctx context.Context, h Hash) error {
	if _, err := s.c.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: s.quarantineKey(h)},
		minio.CopySrcOptions{Bucket: s.bucket, Object: s.blobKey(h)}); isNotFound(err) {
		return ErrNotFound
	} else if err != nil {
		return s.fault(err)
	}
	return s.Delete(ctx, h)
}

// ReplaceUploader implements Store: the object is copied onto itself with the
// new metadata, so its bytes never leave the store. Checking was and copying
// are two requests, not one atomic step: S3 has no condition on user metadata
// (the copy keeps the ETag, a digest of the bytes). That is enough, because
// nothing else changes the uploader of an existing blob (a put publishes only
// where the name is absent); two repairs at once both write the author the
// chain named, and may move its bytes between the usage counters twice, which
// `healthd vault recount` sets right.
func (s *S3Store) ReplaceUploader(ctx context.Context, h Hash, was, uploader string, at time.Time) (BlobInfo, error) {
	info, err := s.Stat(ctx, h)
	if err != nil {
		return BlobInfo{}, err
	}
	if info.Uploader != was {
		return info, ErrUploaderChanged
	}
	info.Uploader, info.UploadedAt = uploader, at.UTC()
	// Retries are harmless here (unlike a publish): the same copy twice
	// writes the same metadata.
	_, err = minio.Core{Client: s.c}.CopyObject(ctx, s.bucket, s.blobKey(h), s.bucket, s.blobKey(h), map[string]string{
		"x-amz-metadata-directive":     "REPLACE",
		"Content-Type":                 "application/octet-stream",
		"x-amz-meta-" + metaUploader:   uploader,
		"x-amz-meta-" + metaUploadedAt: info.UploadedAt.Format(time.RFC3339Nano),
	}, minio.CopySrcOptions{}, minio.PutObjectOptions{})
	if isNotFound(err) {
		return BlobInfo{}, ErrNotFound // deleted or quarantined since the Stat
	} else if err != nil {
		return BlobInfo{}, s.fault(err)
	}
	if was == uploader { // a new upload time only (an upload's TTL restarted)
		return info, nil
	}
	if err := errors.Join(s.count(ctx, was, -info.Size), s.count(ctx, uploader, info.Size)); err != nil {
		s.log.Warn("a blob's new uploader is stored but the usage counters are not moved: run `healthd vault recount`",
			"store", s.name, "err", err)
	}
	return info, nil
}

// PurgeQuarantine implements Store.
func (s *S3Store) PurgeQuarantine(ctx context.Context, before time.Time) (int, error) {
	n := 0
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "quarantine/", Recursive: true}) {
		if obj.Err != nil {
			return n, s.fault(obj.Err)
		}
		if !obj.LastModified.Before(before) {
			continue
		}
		if err := s.c.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return n, s.fault(err)
		}
		n++
	}
	return n, nil
}

var _ Store = (*S3Store)(nil)
