// Package vaulttest holds checks that every vault backend must pass, for the
// tests of each (the disk store's unit tests, the object store's end-to-end
// tests).
package vaulttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/vault"
)

// TestStore checks that store keeps the guarantees every vault backend owes
// (docs/vault.md, "Storage guarantees"): content-addressed, whole or absent,
// the first uploader recorded, quarantine and purge. The disk store's unit
// tests and the object-store end-to-end tests both run it. store must be
// empty.
func TestStore(t testing.TB, store vault.Store) {
	ctx := context.Background()
	blob := bytes.Repeat([]byte("ciphertext "), 3000)
	h := vault.Hash(sha256.Sum256(blob))

	// a body that does not hash to its name, or is too long, leaves nothing
	if _, _, err := store.Put(ctx, h, bytes.NewReader(append([]byte("x"), blob[1:]...)), int64(len(blob)), "hospital"); !errors.Is(err, vault.ErrHashMismatch) {
		t.Fatalf("put of the wrong bytes: %v, want vault.ErrHashMismatch", err)
	}
	if _, _, err := store.Put(ctx, h, bytes.NewReader(blob), int64(len(blob))-1, "hospital"); !errors.Is(err, vault.ErrTooLarge) {
		t.Fatalf("put over the limit: %v, want vault.ErrTooLarge", err)
	}
	if _, _, err := store.Put(ctx, h, bytes.NewReader(blob), int64(len(blob))+1, "hospital"); err == nil {
		t.Fatal("a body shorter than its size was stored")
	}
	if _, err := store.Stat(ctx, h); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("after refused puts: %v, want vault.ErrNotFound", err)
	}

	// the first upload is stored and recorded; a second is a no-op
	info, created, err := store.Put(ctx, h, bytes.NewReader(blob), int64(len(blob)), "hospital")
	if err != nil || !created || info.Uploader != "hospital" || info.Size != int64(len(blob)) || info.Hash != h.String() {
		t.Fatalf("first put: %+v %v %v", info, created, err)
	}
	again, created, err := store.Put(ctx, h, bytes.NewReader(blob), int64(len(blob)), "lab")
	if err != nil || created || again.Uploader != "hospital" {
		t.Fatalf("second put: %+v %v %v (the first uploader must stay)", again, created, err)
	}
	st, err := store.Stat(ctx, h)
	if err != nil || st.Uploader != "hospital" || st.Size != int64(len(blob)) || time.Since(st.UploadedAt) > time.Hour {
		t.Fatalf("stat: %+v %v", st, err)
	}
	rc, got, err := store.Get(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil || !bytes.Equal(data, blob) || got.Uploader != "hospital" {
		t.Fatalf("get: %d bytes, %+v, %v", len(data), got, err)
	}
	if n, err := store.Usage(ctx, "hospital"); err != nil || n != int64(len(blob)) {
		t.Fatalf("hospital's usage: %d %v, want %d", n, err, len(blob))
	}
	if n, err := store.Usage(ctx, "lab"); err != nil || n != 0 {
		t.Fatalf("lab's usage: %d %v, want 0 (its put was a no-op)", n, err)
	}
	var listed []vault.BlobInfo
	if err := store.List(ctx, func(b vault.BlobInfo) error { listed = append(listed, b); return nil }); err != nil || len(listed) != 1 ||
		listed[0].Hash != h.String() || listed[0].Uploader != "hospital" {
		t.Fatalf("list: %+v %v", listed, err)
	}

	// a repair's ReplaceUploader changes the uploader, the time and the usage,
	// only from the uploader the caller names, and keeps the bytes
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := store.ReplaceUploader(ctx, h, "someone else", "lab", at); !errors.Is(err, vault.ErrUploaderChanged) {
		t.Fatalf("replace from the wrong uploader: %v, want vault.ErrUploaderChanged", err)
	}
	absent := vault.Hash(sha256.Sum256([]byte("absent")))
	if _, err := store.ReplaceUploader(ctx, absent, "hospital", "lab", at); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("replace of an absent blob: %v, want vault.ErrNotFound", err)
	}
	replaced, err := store.ReplaceUploader(ctx, h, "hospital", "lab", at)
	if err != nil || replaced.Uploader != "lab" || !replaced.UploadedAt.Equal(at) || replaced.Size != int64(len(blob)) {
		t.Fatalf("replace: %+v %v", replaced, err)
	}
	rc, got, err = store.Get(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	data, err = io.ReadAll(rc)
	_ = rc.Close()
	if err != nil || !bytes.Equal(data, blob) || got.Uploader != "lab" || !got.UploadedAt.Equal(at) {
		t.Fatalf("get after replace: %d bytes, %+v, %v", len(data), got, err)
	}
	for who, want := range map[string]int64{"hospital": 0, "lab": int64(len(blob))} {
		if n, err := store.Usage(ctx, who); err != nil || n != want {
			t.Fatalf("%s's usage after replace: %d %v, want %d", who, n, err, want)
		}
	}
	if _, err := store.ReplaceUploader(ctx, h, "lab", "hospital", st.UploadedAt); err != nil {
		t.Fatalf("replace back: %v", err)
	}

	// quarantine hides it; a purge of what was quarantined before now+1h removes it
	if err := store.Quarantine(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Stat(ctx, h); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("a quarantined blob is still served: %v", err)
	}
	if n, err := store.Usage(ctx, "hospital"); err != nil || n != 0 {
		t.Fatalf("usage after quarantine: %d %v, want 0", n, err)
	}
	if err := store.Quarantine(ctx, h); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("quarantine of an absent blob: %v, want vault.ErrNotFound", err)
	}
	if n, err := store.PurgeQuarantine(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("purge of older ones: %d %v, want none", n, err)
	}
	if n, err := store.PurgeQuarantine(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d %v, want 1", n, err)
	}

	// delete: gone, and deleting again is no error
	if _, _, err := store.Put(ctx, h, bytes.NewReader(blob), int64(len(blob)), "lab"); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, h); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, _, err := store.Get(ctx, h); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if n, err := store.Usage(ctx, "lab"); err != nil || n != 0 {
		t.Fatalf("usage after delete: %d %v, want 0", n, err)
	}

	// concurrent uploads of one blob by several uploaders: exactly one is
	// created, it is the recorded uploader, and it alone is counted
	race := bytes.Repeat([]byte("raced "), 5000)
	rh := vault.Hash(sha256.Sum256(race))
	const racers = 8
	var wg sync.WaitGroup
	made := make([]bool, racers)
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			_, made[i], errs[i] = store.Put(ctx, rh, bytes.NewReader(race), int64(len(race)), fmt.Sprintf("racer-%d", i))
		})
	}
	wg.Wait()
	winner := -1
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if made[i] {
			if winner >= 0 {
				t.Fatalf("racers %d and %d were both told they created the blob", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no racer created the blob")
	}
	st, err = store.Stat(ctx, rh)
	if err != nil || st.Uploader != fmt.Sprintf("racer-%d", winner) {
		t.Fatalf("after the race: %+v %v, want racer-%d recorded", st, err, winner)
	}
	for i := range racers {
		want := int64(0)
		if i == winner {
			want = int64(len(race))
		}
		if n, err := store.Usage(ctx, fmt.Sprintf("racer-%d", i)); err != nil || n != want {
			t.Fatalf("racer-%d's usage: %d %v, want %d", i, n, err, want)
		}
	}
	if err := store.Delete(ctx, rh); err != nil {
		t.Fatal(err)
	}

	// a store shared by replicas elects one sweeper
	if l, ok := store.(vault.Leaser); ok {
		lease := func(holder string, ttl time.Duration, want bool) {
			t.Helper()
			if got, err := l.Lease(ctx, holder, ttl); err != nil || got != want {
				t.Fatalf("lease for %s: %v %v, want %v", holder, got, err, want)
			}
		}
		lease("a", 2*time.Second, true)
		lease("b", time.Minute, false)
		lease("a", 2*time.Second, true) // renewal
		time.Sleep(2500 * time.Millisecond)
		lease("b", time.Minute, true) // a's has expired
		lease("a", time.Minute, false)
	}
}
