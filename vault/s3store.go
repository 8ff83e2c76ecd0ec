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
	now    func() time.Time
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
	})
	if err != nil {
		return nil, err
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("object store %s has no bucket %q: create it first", cfg.Endpoint, cfg.Bucket)
	}
	return &S3Store{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix, now: time.Now}, nil
}

func (s *S3Store) blobKey(h Hash) string       { return s.prefix + "blobs/" + h.String() }
func (s *S3Store) quarantineKey(h Hash) string { return s.prefix + "quarantine/" + h.String() }

// Put implements Store.
func (s *S3Store) Put(ctx context.Context, h Hash, r io.Reader, limit int64, uploader string) (BlobInfo, bool, error) {
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
	body := &countingReader{r: io.TeeReader(io.LimitReader(r, limit+1), hasher)}
	_, err := s.c.PutObject(ctx, s.bucket, tmp, body, -1, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	defer func() { _ = s.c.RemoveObject(context.WithoutCancel(ctx), s.bucket, tmp, minio.RemoveObjectOptions{}) }()
	switch {
	case err != nil:
		return BlobInfo{}, false, fmt.Errorf("object store: %w", err)
	case body.n > limit:
		return BlobInfo{}, false, ErrTooLarge
	case Hash(hasher.Sum(nil)) != h:
		return BlobInfo{}, false, ErrHashMismatch
	}
	// A concurrent upload of the same bytes may have finished meanwhile: its
	// uploader stays. (S3 has no compare-and-swap that every store offers; two
	// replicas finishing in the same instant may both copy, the last copy's
	// uploader then wins. The bytes are the same either way.)
	if info, err := s.Stat(ctx, h); err == nil {
		return info, false, nil
	}
	info := BlobInfo{Hash: h.String(), Size: body.n, Uploader: uploader, UploadedAt: s.now().UTC()}
	_, err = s.c.CopyObject(ctx, minio.CopyDestOptions{
		Bucket: s.bucket, Object: s.blobKey(h), ReplaceMetadata: true,
		UserMetadata: map[string]string{metaUploader: uploader, metaUploadedAt: info.UploadedAt.Format(time.RFC3339Nano)},
	}, minio.CopySrcOptions{Bucket: s.bucket, Object: tmp})
	if err != nil {
		return BlobInfo{}, false, fmt.Errorf("object store: %w", err)
	}
	return info, true, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Get implements Store.
func (s *S3Store) Get(ctx context.Context, h Hash) (io.ReadCloser, BlobInfo, error) {
	info, err := s.Stat(ctx, h)
	if err != nil {
		return nil, BlobInfo{}, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.blobKey(h), minio.GetObjectOptions{})
	if err != nil {
		return nil, BlobInfo{}, fmt.Errorf("object store: %w", err)
	}
	return obj, info, nil
}

// Stat implements Store.
func (s *S3Store) Stat(ctx context.Context, h Hash) (BlobInfo, error) {
	oi, err := s.c.StatObject(ctx, s.bucket, s.blobKey(h), minio.StatObjectOptions{})
	if isNotFound(err) {
		return BlobInfo{}, ErrNotFound
	} else if err != nil {
		return BlobInfo{}, fmt.Errorf("object store: %w", err)
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

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, h Hash) error {
	if err := s.c.RemoveObject(ctx, s.bucket, s.blobKey(h), minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("object store: %w", err)
	}
	return nil
}

// List implements Store: one metadata read per blob (S3 lists carry no user
// metadata), so a vault with millions of blobs takes a while to start.
func (s *S3Store) List(ctx context.Context, fn func(BlobInfo) error) error {
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "blobs/", Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("object store: %w", obj.Err)
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
		minio.CopySrcOptions{Bucket: s.bucket, Object: s.blobKey(h)}); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	return s.Delete(ctx, h)
}

// PurgeQuarantine implements Store.
func (s *S3Store) PurgeQuarantine(ctx context.Context, before time.Time) (int, error) {
	n := 0
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "quarantine/", Recursive: true}) {
		if obj.Err != nil {
			return n, fmt.Errorf("object store: %w", obj.Err)
		}
		if !obj.LastModified.Before(before) {
			continue
		}
		if err := s.c.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return n, fmt.Errorf("object store: %w", err)
		}
		n++
	}
	return n, nil
}

var _ Store = (*S3Store)(nil)
