package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// TestMigrate: every blob is copied with its uploader and upload time, a dry
// run copies nothing, a second run copies nothing more, a damaged source blob
// is reported and not copied, and the source may be read while its vault
// holds it.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	srcDir := t.TempDir()
	owner, err := NewDiskStore(srcDir) // the vault that serves it, still running
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var hashes []Hash
	for i := range 20 {
		blob := bytes.Repeat([]byte(fmt.Sprintf("blob %d ", i)), 100+i)
		h := Hash(sha256.Sum256(blob))
		if _, _, err := owner.PutAt(ctx, h, bytes.NewReader(blob), int64(len(blob)), fmt.Sprintf("uploader-%d", i%3), at); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	src, err := OpenDiskStoreReadOnly(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Put(ctx, hashes[0], bytes.NewReader(nil), 0, "x"); err == nil {
		t.Fatal("a read-only store accepted a put")
	}
	dst, err := NewDiskStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	rep, err := Migrate(ctx, src, dst, MigrateOptions{DryRun: true})
	if err != nil || rep.Blobs != 20 || rep.Copied != 20 || rep.Present != 0 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	if _, err := dst.Stat(ctx, hashes[0]); err == nil {
		t.Fatal("a dry run copied")
	}

	// a damaged blob in the source is reported, the rest copied
	damaged := src.path(hashes[5])
	if err := os.WriteFile(damaged, []byte("bit rot"), 0o600); err != nil {
		t.Fatal(err)
	}
	var last int
	rep, err = Migrate(ctx, src, dst, MigrateOptions{Progress: func(done, _ int) { last = max(last, done) }})
	if err == nil || rep.Copied != 19 || len(rep.Failed) != 1 || rep.Failed[hashes[5].String()] == "" || last != 20 {
		t.Fatalf("with a damaged blob: %+v %v (progress %d)", rep, err, last)
	}
	if _, err := dst.Stat(ctx, hashes[5]); err == nil {
		t.Fatal("the damaged blob was copied")
	}
	for i, h := range hashes {
		if i == 5 {
			continue
		}
		info, err := dst.Stat(ctx, h)
		if err != nil || info.Uploader != fmt.Sprintf("uploader-%d", i%3) || !info.UploadedAt.Equal(at) {
			t.Fatalf("blob %d in the destination: %+v %v", i, info, err)
		}
		rc, _, err := dst.Get(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		_ = rc.Close()
		if Hash(sha256.Sum256(got)) != h {
			t.Fatalf("blob %d does not hash to its name in the destination", i)
		}
	}
	used, _ := dst.Usage(ctx, "uploader-0")
	want, _ := owner.Usage(ctx, "uploader-0")
	if used != want {
		t.Fatalf("destination usage %d, source %d", used, want)
	}

	// repaired, a second run copies only what is missing
	blob := bytes.Repeat([]byte("blob 5 "), 105)
	if err := os.WriteFile(damaged, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = Migrate(ctx, src, dst, MigrateOptions{})
	if err != nil || rep.Copied != 1 || rep.Present != 19 {
		t.Fatalf("second run: %+v %v", rep, err)
	}
}

// authorChain is a chain that knows one record, authored by author, or
// cannot be asked (err).
type authorChain struct {
	author string
	err    error
}

func (c authorChain) BlobStatus(_ context.Context, _ Hash, uploader string) (bool, bool, error) {
	return c.err == nil && uploader == c.author, false, c.err
}

// TestMigrateConflicts: a blob the destination already holds is skipped only
// if its uploader and size are the source's. Otherwise it is a conflict,
// reported and not counted as present, and the migration fails unless the
// conflict is resolved; a repair gives it the source's uploader and upload
// time only when the chain names the source's uploader as the record's
// author, and never writes an uploader the chain has not confirmed.
func TestMigrateConflicts(t *testing.T) {
	ctx := context.Background()
	blob := bytes.Repeat([]byte("alice's ciphertext "), 50)
	h := Hash(sha256.Sum256(blob))
	size := int64(len(blob))
	filed := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	planted := filed.Add(-time.Hour) // the planted copy arrived first
	unreachable := errors.New("connection refused")

	tests := []struct {
		name string
		// plant puts the destination's copy (as uploader, at planted), and
		// may alter it
		plant       func(t *testing.T, dst *DiskStore)
		opts        MigrateOptions
		wantPresent bool
		wantOutcome ConflictOutcome // if not present
		wantErr     bool            // an *IncompleteError
		// what the destination holds afterwards
		wantUploader string
		wantAt       time.Time
	}{{
		name:        "the same uploader is skipped as present",
		plant:       plantAs("alice"),
		wantPresent: true, wantUploader: "alice", wantAt: planted,
	}, {
		// bob uploads alice's ciphertext to the destination under his own key before the migration
		name:        "a foreign uploader is a conflict, not present",
		plant:       plantAs("bob"),
		wantOutcome: ConflictLeft, wantErr: true, wantUploader: "bob", wantAt: planted,
	}, {
		name:        "repaired when the chain names the source's uploader as the author",
		plant:       plantAs("bob"),
		opts:        MigrateOptions{RepairConflicts: true, Chain: authorChain{author: "alice"}},
		wantOutcome: ConflictRepaired, wantUploader: "alice", wantAt: filed,
	}, {
		name:        "a dry run says it would repair and writes nothing",
		plant:       plantAs("bob"),
		opts:        MigrateOptions{DryRun: true, RepairConflicts: true, Chain: authorChain{author: "alice"}},
		wantOutcome: ConflictRepaired, wantUploader: "bob", wantAt: planted,
	}, {
		// mallory, not alice, committed the record: neither copy is the record's, nothing is rewritten
		name:        "repair refused when the chain names another author",
		plant:       plantAs("bob"),
		opts:        MigrateOptions{RepairConflicts: true, Chain: authorChain{author: "mallory"}},
		wantOutcome: ConflictNoAuthor, wantErr: true, wantUploader: "bob", wantAt: planted,
	}, {
		name:        "repair refused when the chain has no record",
		plant:       plantAs("bob"),
		opts:        MigrateOptions{RepairConflicts: true, Chain: authorChain{}},
		wantOutcome: ConflictNoAuthor, wantErr: true, wantUploader: "bob", wantAt: planted,
	}, {
		// the source's copy is the planted one: the destination's uploader is the record's author
		name:        "the destination kept when the chain names its uploader",
		plant:       plantAs("bob"),
		opts:        MigrateOptions{RepairConflicts: true, Chain: authorChain{author: "bob"}},
		wantOutcome: ConflictDestinationRight, wantUploader: "bob", wantAt: planted,
	}, {
		name:        "not repaired when the chain cannot be asked",
		plant:       plantAs("bob"),
		opts:        MigrateOptions{RepairConflicts: true, Chain: authorChain{author: "alice", err: unreachable}},
		wantOutcome: ConflictChainUnavailable, wantErr: true, wantUploader: "bob", wantAt: planted,
	}, {
		name: "a copy of another size is never repaired",
		plant: func(t *testing.T, dst *DiskStore) {
			plantAs("alice")(t, dst)
			info, _ := dst.Stat(context.Background(), h)
			info.Size++
			raw, _ := json.Marshal(info)
			if err := os.WriteFile(dst.path(h)+".json", raw, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		opts:        MigrateOptions{RepairConflicts: true, Chain: authorChain{author: "alice"}},
		wantOutcome: ConflictSizeDiffers, wantErr: true, wantUploader: "alice", wantAt: planted,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := NewDiskStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if _, _, err := src.PutAt(ctx, h, bytes.NewReader(blob), size, "alice", filed); err != nil {
				t.Fatal(err)
			}
			dst, err := NewDiskStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			tc.plant(t, dst)
			planter, _ := dst.Stat(ctx, h)

			rep, err := Migrate(ctx, src, dst, tc.opts)

			var incomplete *IncompleteError
			if tc.wantErr != errors.As(err, &incomplete) || !tc.wantErr && err != nil {
				t.Fatalf("Migrate: %v, want an *IncompleteError: %v", err, tc.wantErr)
			}
			if tc.wantPresent {
				if rep.Present != 1 || len(rep.Conflicts) != 0 {
					t.Fatalf("report %+v, want the blob present and no conflict", rep)
				}
			} else {
				c, ok := rep.Conflicts[h.String()]
				if rep.Present != 0 || rep.Copied != 0 || !ok || c.Outcome != tc.wantOutcome {
					t.Fatalf("report %+v, want one conflict, %v", rep, tc.wantOutcome)
				}
				if c.Source.Uploader != "alice" || c.Destination.Uploader != planter.Uploader {
					t.Fatalf("conflict %+v names the wrong uploaders", c)
				}
				if tc.wantOutcome == ConflictChainUnavailable && !errors.Is(c.Err, unreachable) {
					t.Fatalf("conflict %+v does not say why the chain could not be asked", c)
				}
			}
			got, err := dst.Stat(ctx, h)
			if err != nil || got.Uploader != tc.wantUploader || !got.UploadedAt.Equal(tc.wantAt) {
				t.Fatalf("the destination holds %+v (%v), want uploader %s at %s", got, err, tc.wantUploader, tc.wantAt)
			}
			// the destination's usage follows its uploader
			for _, who := range []string{"alice", "bob"} {
				want := int64(0)
				if who == got.Uploader {
					want = size // as stored, whatever its metadata says
				}
				if used, _ := dst.Usage(ctx, who); used != want {
					t.Fatalf("%s's usage in the destination: %d, want %d", who, used, want)
				}
			}
		})
	}
}

// plantAs stores the test's blob in dst as uploader's, uploaded an hour
// before the source's copy.
func plantAs(uploader string) func(t *testing.T, dst *DiskStore) {
	return func(t *testing.T, dst *DiskStore) {
		t.Helper()
		blob := bytes.Repeat([]byte("alice's ciphertext "), 50)
		at := time.Date(2026, 3, 4, 4, 6, 7, 0, time.UTC)
		if _, _, err := dst.PutAt(context.Background(), Hash(sha256.Sum256(blob)), bytes.NewReader(blob), int64(len(blob)), uploader, at); err != nil {
			t.Fatal(err)
		}
	}
}
