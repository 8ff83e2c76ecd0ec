package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
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
