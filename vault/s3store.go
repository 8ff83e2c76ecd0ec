package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
}

// S3Store keeps blobs as objects of an S3-compatible bucket, so that several
// vault replicas can serve the same blobs: <prefix>blobs/<hash> with the
// uploader and upload time as object metadata, <prefix>quarantine/<hash>, and
// uploads in progress under <prefix>tmp/. An upload is written to a temporary
// object, hashed as it is sent, and copied to its name only if it hashes to
// it, so no reader ever sees a partial or wrong blob.
type S3Store struct {
	c      *minio.Client
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
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: cfg.TLS,
		Region: cfg.Region, BucketLookup: lookup,
		// Few retries: a store that is down is reported (503) within seconds,
		// not after the client's default ten attempts.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, err
	}
	s := &S3Store{
		c: c, bucket: cfg.Bucket, prefix: cfg.Prefix, now: time.Now, tallies: map[string]*tally{},
		name: "s3://" + cfg.Endpoint + "/" + cfg.Bucket + "/" + cfg.Prefix,
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, s.fault(err)
	}
	if !ok {
		return nil, fmt.Errorf("object store %s has no bucket %q: create it first", cfg.Endpoint, cfg.Bucket)
	}
	return s, nil
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
	_, err := s.c.PutObject(ctx, s.bucket, tmp, body, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	defer func() { _ = s.c.RemoveObject(context.WithoutCancel(ctx), s.bucket, tmp, minio.RemoveObjectOptions{}) }()
	switch {
	case body.err != nil: // the client's body failed (too slow, too long for its Content-Length)
		return BlobInfo{}, false, body.err
	case err != nil && body.n < size && ctx.Err() == nil:
		return BlobInfo{}, false, io.ErrUnexpectedEOF // the body ended early
	case err != nil && ctx.Err() == nil:
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
	info := BlobInfo{Hash: h.String(), Size: body.n, Uploader: uploader, UploadedAt: at.UTC()}
	_, err = minio.Core{Client: s.c}.CopyObject(ctx, s.bucket, tmp, s.bucket, s.blobKey(h), map[string]string{
		"x-amz-metadata-directive":     "REPLACE",
		"Content-Type":                 "application/octet-stream",
		"x-amz-meta-" + metaUploader:   uploader,
		"x-amz-meta-" + metaUploadedAt: info.UploadedAt.Format(time.RFC3339Nano),
		"If-None-Match":                "*",
	}, minio.CopySrcOptions{}, minio.PutObjectOptions{})
	if isPreconditionFailed(err) {
		existing, err := s.Stat(ctx, h)
		return existing, false, err
	} else if err != nil {
		return BlobInfo{}, false, s.fault(err)
	}
	// If counting fails the blob is stored but not counted: the uploader's
	// usage is short by it (docs/vault.md, "Quotas across replicas").
	_ = s.count(ctx, uploader, info.Size)
	return info, true, nil
}

// countingReader counts what it reads, and keeps its source's first error
// other than EOF.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
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
	_ = s.count(ctx, info.Uploader, -info.Size)
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
