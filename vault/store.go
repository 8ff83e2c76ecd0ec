// Package vault is healthd's off-chain store of encrypted records: an HTTP
// service beside a node that keeps ciphertext by its SHA-256 and serves it only to
// accounts holding a fresh on-chain access receipt for a record with that hash.
// It never sees plaintext or keys.
package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Hash is the SHA-256 of a ciphertext: a blob's name.
type Hash [sha256.Size]byte

// ParseHash parses 64 hex characters.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%q is not a SHA-256 in hex (64 characters)", s)
	}
	copy(h[:], b)
	return h, nil
}

// String is the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// BlobInfo is what the vault records about a blob besides its bytes.
type BlobInfo struct {
	Hash       string    `json:"hash"`
	Size       int64     `json:"size"`
	Uploader   string    `json:"uploader"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// Errors of a Store.
var (
	ErrNotFound     = errors.New("blob not found")
	ErrHashMismatch = errors.New("content does not hash to the requested name")
	ErrTooLarge     = errors.New("blob larger than the limit")
	// ErrUnavailable is what every failure of the backing store (down,
	// unreachable, refusing) wraps, as an *UnavailableError naming the store.
	ErrUnavailable = errors.New("store unavailable")
	// ErrUploaderChanged is ReplaceUploader's refusal: the blob's uploader is
	// no longer the one the caller decided on.
	ErrUploaderChanged = errors.New("the blob's uploader changed meanwhile")
)

// UnavailableError is a failure of the backing store.
type UnavailableError struct {
	Store string // its name, e.g. s3://host:port/bucket/prefix
	Err   error
}

func (e *UnavailableError) Error() string {
	return "object store " + e.Store + " unavailable: " + e.Err.Error()
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

func (e *UnavailableError) Unwrap() error { return e.Err }

// Store keeps blobs by hash. Implementations must never expose a partly written
// blob: a blob is either absent or whole. The disk store is the default; the
// S3 store keeps blobs in a bucket that several vault replicas share.
type Store interface {
	// Name says which store this is, for messages (a directory, an s3:// URL).
	Name() string
	// Usage is how many bytes of stored blobs (quarantined ones not
	// included) uploader uploaded first.
	Usage(ctx context.Context, uploader string) (int64, error)
	// Put stores the size bytes of r under h, if they hash to h: r yielding
	// more is ErrTooLarge, fewer an error. Storing an existing blob again is a
	// no-op (created false) that need not read r.
	Put(ctx context.Context, h Hash, r io.Reader, size int64, uploader string) (info BlobInfo, created bool, err error)
	// PutAt is Put with the upload time given: a migration keeps it.
	PutAt(ctx context.Context, h Hash, r io.Reader, size int64, uploader string, at time.Time) (info BlobInfo, created bool, err error)
	// Get opens a blob for reading.
	Get(ctx context.Context, h Hash) (io.ReadCloser, BlobInfo, error)
	// Stat returns a blob's information, or ErrNotFound.
	Stat(ctx context.Context, h Hash) (BlobInfo, error)
	// Delete removes a blob; deleting an absent blob is not an error.
	Delete(ctx context.Context, h Hash) error
	// List calls fn for every blob, in no particular order.
	List(ctx context.Context, fn func(BlobInfo) error) error
	// Quarantine moves a blob aside: it is no longer served or listed, but
	// kept until PurgeQuarantine, so that a sweep misled about the chain
	// loses nothing an operator cannot restore.
	Quarantine(ctx context.Context, h Hash) error
	// PurgeQuarantine deletes the blobs quarantined before before and
	// returns how many.
	PurgeQuarantine(ctx context.Context, before time.Time) (int, error)
	// ReplaceUploader gives blob h, whose bytes stay, the uploader and upload
	// time given, if its uploader is still was (else ErrUploaderChanged; an
	// absent blob is ErrNotFound); its bytes move from was's usage to
	// uploader's. The vault itself never calls it: its rule is that the first
	// uploader stays. Only a migration's repair does, once the chain has
	// named uploader as the author of the record with this hash
	// (MigrateOptions.RepairConflicts).
	ReplaceUploader(ctx context.Context, h Hash, was, uploader string, at time.Time) (BlobInfo, error)
}

// A Leaser is a store that several vault replicas share; its lease elects the
// one replica that sweeps. Lease takes or renews the lease for holder for ttl
// and reports whether holder has it. A store without it (the disk store: one
// vault per directory) sweeps in its only vault.
type Leaser interface {
	Lease(ctx context.Context, holder string, ttl time.Duration) (bool, error)
}

// DiskStore keeps blobs as files in a directory: blobs/ab/cd/<hash> and its
// <hash>.json metadata. Writes go to a temporary file in the same directory, are
// hashed while written, synced, and renamed into place, and the directory is
// synced: a crash leaves either no blob or a whole one, never a corrupt one.
type DiskStore struct {
	dir  string
	now  func() time.Time
	lock *os.File
	// publish serialises the last step of a put (is it there yet? metadata,
	// rename) per blob, so that of two uploads of one blob the first to
	// finish is the recorded uploader and the second finds it stored. The
	// locks are striped by the hash's first byte, so puts of different blobs
	// sync in parallel (the file system batches their journal commits). The
	// directory lock keeps other processes out, so in-process mutexes are
	// enough.
	publish [64]sync.Mutex

	usageMu sync.Mutex
	usage   map[string]int64 // bytes stored per uploader, read at open
}

// NewDiskStore opens (creating if needed) a disk store in dir, and locks it: two
// vaults must not share a directory (each would take the other's uploads in
// progress for crash leftovers).
func NewDiskStore(dir string) (*DiskStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("%s is used by another vault: %w", dir, err)
	}
	s := &DiskStore{dir: dir, now: time.Now, lock: lock, usage: map[string]int64{}}
	if err := s.List(context.Background(), func(b BlobInfo) error {
		s.usage[b.Uploader] += b.Size
		return nil
	}); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return s, nil
}

// Name implements Store: the directory.
func (s *DiskStore) Name() string { return s.dir }

// Usage implements Store.
func (s *DiskStore) Usage(_ context.Context, uploader string) (int64, error) {
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	return s.usage[uploader], nil
}

func (s *DiskStore) count(uploader string, delta int64) {
	s.usageMu.Lock()
	s.usage[uploader] += delta
	s.usageMu.Unlock()
}

// OpenDiskStoreReadOnly opens the disk store in dir for reading only,
// without its lock, so that `healthd vault migrate` can copy from it while the
// vault that owns it keeps serving: blobs are published by rename, so a reader
// sees each whole or not at all. Writes, deletes and quarantine are refused.
func OpenDiskStoreReadOnly(dir string) (*DiskStore, error) {
	if _, err := os.Stat(filepath.Join(dir, "blobs")); err != nil {
		return nil, fmt.Errorf("%s is not a vault's data directory: %w", dir, err)
	}
	return &DiskStore{dir: dir, now: time.Now, usage: map[string]int64{}}, nil
}

var errReadOnly = errors.New("the store is open read-only")

// Close releases the directory lock.
func (s *DiskStore) Close() error {
	if s.lock == nil {
		return nil
	}
	return s.lock.Close()
}

func (s *DiskStore) path(h Hash) string {
	x := h.String()
	return filepath.Join(s.dir, "blobs", x[:2], x[2:4], x)
}

// Put implements Store.
func (s *DiskStore) Put(ctx context.Context, h Hash, r io.Reader, size int64, uploader string) (BlobInfo, bool, error) {
	return s.PutAt(ctx, h, r, size, uploader, s.now())
}

// PutAt implements Store.
func (s *DiskStore) PutAt(_ context.Context, h Hash, r io.Reader, size int64, uploader string, at time.Time) (BlobInfo, bool, error) {
	if s.lock == nil {
		return BlobInfo{}, false, errReadOnly
	}
	final := s.path(h)
	if info, err := s.info(h); err == nil {
		return info, false, nil // content-addressed: the same name is the same bytes
	}
	// The temporary file lives in tmp/ of the same file system, so the rename is
	// atomic; leftovers of a crash are removed at the next start (CleanTemp).
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return BlobInfo{}, false, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	hasher := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, hasher), io.LimitReader(r, size+1))
	switch {
	case err == nil && n > size:
		err = ErrTooLarge
	case err == nil && n < size:
		err = io.ErrUnexpectedEOF
	}
	if err == nil && Hash(hasher.Sum(nil)) != h {
		err = ErrHashMismatch
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return BlobInfo{}, false, err
	}
	lock := &s.publish[int(h[0])%len(s.publish)]
	lock.Lock()
	defer lock.Unlock()
	if existing, err := s.info(h); err == nil {
		return existing, false, nil // a concurrent upload of the same bytes finished first: its uploader stays
	}
	info := BlobInfo{Hash: h.String(), Size: n, Uploader: uploader, UploadedAt: at.UTC()}
	meta, err := json.Marshal(info)
	if err != nil {
		return BlobInfo{}, false, err
	}
	if err := mkdirAllSync(filepath.Dir(final)); err != nil {
		return BlobInfo{}, false, err
	}
	// Metadata first: a blob file without metadata never exists.
	if err := writeFileSync(final+".json", filepath.Join(s.dir, "tmp"), meta); err != nil {
		return BlobInfo{}, false, err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return BlobInfo{}, false, err
	}
	s.count(uploader, n)
	return info, true, syncDir(filepath.Dir(final))
}

// Get implements Store.
func (s *DiskStore) Get(_ context.Context, h Hash) (io.ReadCloser, BlobInfo, error) {
	info, err := s.info(h)
	if err != nil {
		return nil, BlobInfo{}, err
	}
	f, err := os.Open(s.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, BlobInfo{}, ErrNotFound
	}
	return f, info, err
}

// Stat implements Store.
func (s *DiskStore) Stat(_ context.Context, h Hash) (BlobInfo, error) { return s.info(h) }

// Delete implements Store.
func (s *DiskStore) Delete(_ context.Context, h Hash) error {
	if s.lock == nil {
		return errReadOnly
	}
	lock := &s.publish[int(h[0])%len(s.publish)]
	lock.Lock()
	defer lock.Unlock()
	p := s.path(h)
	info, err := s.info(h)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s.count(info.Uploader, -info.Size)
	if err := os.Remove(p + ".json"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// Quarantine implements Store: blobs/…/<hash> and its metadata move to
// quarantine/<hash>(.json), stamped with the time of the move. To restore one,
// move both files back under blobs/ab/cd/ (a vault restart picks it up).
func (s *DiskStore) Quarantine(_ context.Context, h Hash) error {
	if s.lock == nil {
		return errReadOnly
	}
	lock := &s.publish[int(h[0])%len(s.publish)]
	lock.Lock()
	defer lock.Unlock()
	info, err := s.info(h)
	if err != nil {
		return err
	}
	qdir := filepath.Join(s.dir, "quarantine")
	if err := mkdirAllSync(qdir); err != nil {
		return err
	}
	p, q := s.path(h), filepath.Join(qdir, h.String())
	if err := os.Rename(p, q); err != nil {
		return err
	}
	s.count(info.Uploader, -info.Size)
	now := s.now()
	if err := os.Chtimes(q, now, now); err != nil {
		return err
	}
	if err := os.Rename(p+".json", q+".json"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := syncDir(qdir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// ReplaceUploader implements Store: the metadata file is replaced by a
// rename, under the blob's publish lock, so a reader or a crash sees the old
// metadata or the new, whole, and a concurrent put, delete or quarantine of
// the blob waits.
func (s *DiskStore) ReplaceUploader(_ context.Context, h Hash, was, uploader string, at time.Time) (BlobInfo, error) {
	if s.lock == nil {
		return BlobInfo{}, errReadOnly
	}
	lock := &s.publish[int(h[0])%len(s.publish)]
	lock.Lock()
	defer lock.Unlock()
	info, err := s.info(h)
	if err != nil {
		return BlobInfo{}, err
	}
	if info.Uploader != was {
		return info, ErrUploaderChanged
	}
	info.Uploader, info.UploadedAt = uploader, at.UTC()
	meta, err := json.Marshal(info)
	if err != nil {
		return BlobInfo{}, err
	}
	p := s.path(h)
	if err := writeFileSync(p+".json", filepath.Join(s.dir, "tmp"), meta); err != nil {
		return BlobInfo{}, err
	}
	if was != uploader {
		s.count(was, -info.Size)
		s.count(uploader, info.Size)
	}
	return info, syncDir(filepath.Dir(p))
}

// PurgeQuarantine implements Store.
func (s *DiskStore) PurgeQuarantine(_ context.Context, before time.Time) (int, error) {
	if s.lock == nil {
		return 0, errReadOnly
	}
	qdir := filepath.Join(s.dir, "quarantine")
	entries, err := os.ReadDir(qdir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if _, err := ParseHash(e.Name()); err != nil {
			continue // metadata, or not ours
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(before) {
			continue
		}
		p := filepath.Join(qdir, e.Name())
		if err := os.Remove(p); err != nil {
			return n, err
		}
		if err := os.Remove(p + ".json"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, err
		}
		n++
	}
	if n > 0 {
		return n, syncDir(qdir)
	}
	return 0, nil
}

// List implements Store.
func (s *DiskStore) List(ctx context.Context, fn func(BlobInfo) error) error {
	return filepath.WalkDir(filepath.Join(s.dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".json" {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h, err := ParseHash(filepath.Base(p[:len(p)-len(".json")]))
		if err != nil {
			return nil // not ours
		}
		info, err := s.info(h)
		if err != nil {
			return nil // metadata without its blob: an interrupted put
		}
		return fn(info)
	})
}

// CleanTemp removes what interrupted puts left behind: files in tmp/, and
// under blobs/ metadata whose blob never arrived (the crash came between the two
// renames) and temporary metadata files of older versions. Call it before
// serving. What it cannot remove it leaves (and reports), rather than keep the
// vault from starting.
func (s *DiskStore) CleanTemp() error {
	entries, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.dir, "tmp", e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	err = filepath.WalkDir(filepath.Join(s.dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		stray := strings.HasPrefix(name, ".meta-")
		if !stray && strings.HasSuffix(name, ".json") {
			if _, err := os.Stat(strings.TrimSuffix(p, ".json")); errors.Is(err, os.ErrNotExist) {
				stray = true // metadata without its blob
			}
		}
		if stray {
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// info reads a blob's metadata, if the blob itself is in place.
func (s *DiskStore) info(h Hash) (BlobInfo, error) {
	p := s.path(h)
	if _, err := os.Stat(p); err != nil {
		return BlobInfo{}, ErrNotFound
	}
	raw, err := os.ReadFile(p + ".json")
	if err != nil {
		return BlobInfo{}, ErrNotFound
	}
	var info BlobInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return BlobInfo{}, fmt.Errorf("metadata of %s: %w", h, err)
	}
	return info, nil
}

// writeFileSync writes data to path through a temporary file in tmpDir (on the
// same file system, so the rename is atomic and CleanTemp finds leftovers).
func writeFileSync(path, tmpDir string, data []byte) error {
	f, err := os.CreateTemp(tmpDir, "meta-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// mkdirAllSync creates dir and its missing parents under blobs/, syncing each
// new directory into its parent so that a crash cannot lose it.
func mkdirAllSync(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := mkdirAllSync(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
