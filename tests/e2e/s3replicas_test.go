package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/healthd-chain/healthd/testutil/network"
	"github.com/healthd-chain/healthd/vault"
)

// TestVaultReplicasOnSeaweedFS: two `healthd vault start` replicas on one
// bucket of a real SeaweedFS serve the same blobs; one killed -9 in the
// middle of 200 concurrent uploads loses none it acknowledged; the quota of
// an account holds across replicas within the uploads in flight; and while
// the object store is down uploads fail with a 503 that names it, nothing is
// acknowledged, and the vault recovers by itself when the store is back.
func TestVaultReplicasOnSeaweedFS(t *testing.T) {
	n := network.StartNode(t)
	sw := network.StartSeaweedFS(t)
	c := sw.MakeBucket("vault")
	dir := t.TempDir()
	// without credentials a vault says what it needs and does not start
	res := n.Exec(append([]string{"vault", "start", "--listen", "127.0.0.1:0", "--chain-grpc", n.GRPC}, sw.Flags("vault", "shared/")...)...)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "needs credentials") {
		t.Fatalf("a vault without S3 credentials: exit %d, %s", res.ExitCode, res.Stderr)
	}
	network.SetCredentials(t)
	replica := func(name, prefix string, extra ...string) *network.Vault {
		args := append(sw.Flags("vault", prefix), "--data", filepath.Join(dir, name))
		return network.StartVault(t, n, append(args, extra...)...)
	}
	r1, r2 := replica("r1", "shared/"), replica("r2", "shared/")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bucket := s3StoreOf(ctx, t, sw, "shared/")
	kr := nodeKeyring(t, n.Home)
	client := func(v *network.Vault, key string) *vault.Client {
		return &vault.Client{BaseURL: v.URL, Keyring: kr, UID: key, Address: n.Address(key)}
	}

	var recordID, contentHash string
	t.Run("a record filed through one replica is read through the other", func(t *testing.T) {
		alice := n.Address("alice")
		n.CLI("consent", "grant", n.Address("hospital"), "--classes", "lab-result", "--permissions", "read,write",
			"--expires", "24h", "--from", "alice", "--keyring-backend", "test")
		file := filepath.Join(t.TempDir(), "result.json")
		if err := os.WriteFile(file, []byte(labResultFHIR), 0o600); err != nil {
			t.Fatal(err)
		}
		var put struct {
			RecordID    json.Number `json:"record_id"`
			ContentHash string      `json:"content_hash"`
		}
		n.CLIJSON(&put, "records", "put", file, "--patient", alice, "--class", "lab-result", "--fhir-type", "Observation",
			"--vault", r1.URL, "--from", "hospital", "--keyring-backend", "test")
		out := filepath.Join(t.TempDir(), "read.json")
		n.CLI("records", "get", put.RecordID.String(), "--purpose", "PATRQT", "--vault", r2.URL, "--out", out, "--from", "alice",
			"--keyring-backend", "test")
		if got, _ := os.ReadFile(out); string(got) != labResultFHIR {
			t.Fatalf("alice read %q through the other replica", got)
		}
		// the ciphertext is an object of the bucket, under the replicas'
		// prefix, and nothing of it is in a replica's data folder
		oi, err := c.StatObject(ctx, "vault", "shared/blobs/"+put.ContentHash, minio.StatObjectOptions{})
		if err != nil || oi.UserMetadata["Uploader"] != n.Address("hospital") {
			t.Fatalf("the blob's object: %+v, %v", oi.UserMetadata, err)
		}
		for _, r := range []*network.Vault{r1, r2} {
			if _, err := os.Stat(filepath.Join(r.Data, "blobs")); !os.IsNotExist(err) {
				t.Fatalf("a vault on S3 wrote blobs to its data folder: %v", err)
			}
		}
		recordID, contentHash = put.RecordID.String(), put.ContentHash
	})

	t.Run("an erased record's blob is deleted by one elected sweeper", func(t *testing.T) {
		if recordID == "" {
			t.Fatal("needs the record of the previous step, which failed")
		}
		n.CLI("tx", "records", "erase", recordID, "--from", "alice", "--yes")
		h, _ := vault.ParseHash(contentHash)
		deadline := time.Now().Add(time.Minute)
		for _, err := bucket.Stat(ctx, h); err == nil; _, err = bucket.Stat(ctx, h) {
			if time.Now().After(deadline) {
				t.Fatal("the erased record's blob is still in the bucket after a minute")
			}
			time.Sleep(500 * time.Millisecond)
		}
		swept := 0
		for _, r := range []*network.Vault{r1, r2} {
			if r.LogContains("deleted the blob of an erased record", contentHash) {
				swept++
			}
		}
		if swept != 1 {
			t.Fatalf("%d replicas logged the deletion, want exactly the sweeper", swept)
		}
		res := n.Exec("records", "get", recordID, "--purpose", "PATRQT", "--vault", r2.URL, "--out", filepath.Join(t.TempDir(), "x"),
			"--from", "alice", "--keyring-backend", "test")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "erased") {
			t.Fatalf("reading the erased record: exit %d, %s", res.ExitCode, res.Stderr)
		}
	})

	t.Run("kill -9 one replica during 200 concurrent uploads", func(t *testing.T) {
		const uploads, workers = 200, 16
		blobs := make([][]byte, uploads)
		for i := range blobs {
			blobs[i] = make([]byte, 128<<10+i)
			_, _ = rand.Read(blobs[i])
		}
		replicas := []*vault.Client{client(r1, "hospital"), client(r2, "hospital")}
		var attempts, acked, failedOnKilled atomic.Int64
		ackedBy := make([]int, uploads) // which replica acknowledged, -1 none
		work := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := range work {
					ackedBy[i] = -1
					h := vault.Hash(sha256.Sum256(blobs[i]))
					// on failure the client tries the other replica, backing off
					// (the live one may answer 429 to a burst of retries)
					for try, r := 0, i%2; try < 20; try, r = try+1, 1-r {
						attempts.Add(1)
						err := replicas[r].Put(ctx, h, bytes.NewReader(blobs[i]), int64(len(blobs[i])))
						if err == nil {
							ackedBy[i] = r
							if acked.Add(1) == 50 {
								r1.Kill() // in the middle: uploads are in flight on it
							}
							break
						}
						if r == 0 {
							failedOnKilled.Add(1)
						}
						time.Sleep(time.Duration(try*100) * time.Millisecond)
					}
				}
			})
		}
		for i := range uploads {
			work <- i
		}
		close(work)
		wg.Wait()

		// every acknowledged blob is in the bucket, whole, recorded as the
		// hospital's, and the store's listing has nothing partial
		present := 0
		for i, blob := range blobs {
			if ackedBy[i] < 0 {
				continue
			}
			h := vault.Hash(sha256.Sum256(blob))
			rc, info, err := bucket.Get(ctx, h)
			if err != nil {
				t.Fatalf("acknowledged blob %d (%s) lost: %v", i, h, err)
			}
			got, _ := io.ReadAll(rc)
			_ = rc.Close()
			if !bytes.Equal(got, blob) || info.Uploader != n.Address("hospital") {
				t.Fatalf("acknowledged blob %d changed (%d bytes, uploader %s)", i, len(got), info.Uploader)
			}
			present++
		}
		countBlobs(ctx, t, bucket) // every blob in the bucket hashes to its name: nothing partial
		if acked.Load() != uploads || failedOnKilled.Load() == 0 {
			t.Fatalf("%d of %d uploads acknowledged, %d failed on the killed replica: the kill did not land mid-run",
				acked.Load(), uploads, failedOnKilled.Load())
		}
		t.Logf("%d uploads, %d attempts (%d failed on the killed replica and were retried on the other); %d acknowledged, %d present and whole afterwards",
			uploads, attempts.Load(), failedOnKilled.Load(), acked.Load(), present)
		r1.Restart()
	})

	t.Run("the quota holds across replicas within the uploads in flight", func(t *testing.T) {
		const quota, size, workers = 1 << 20, 64 << 10, 8
		q := []*network.Vault{replica("q1", "quota/", "--quota", fmt.Sprint(quota)), replica("q2", "quota/", "--quota", fmt.Sprint(quota))}
		store := s3StoreOf(ctx, t, sw, "quota/")
		lab := []*vault.Client{client(q[0], "lab"), client(q[1], "lab")}
		var mu sync.Mutex
		var accepted, refused int64
		work := make(chan int)
		var wg sync.WaitGroup
		for w := range 2 * workers { // half of them on each replica
			wg.Go(func() {
				for range work {
					blob := make([]byte, size)
					_, _ = rand.Read(blob)
					err := lab[w%2].Put(ctx, vault.Hash(sha256.Sum256(blob)), bytes.NewReader(blob), size)
					var se *vault.StatusError
					mu.Lock()
					switch {
					case err == nil:
						accepted += size
					case errors.As(err, &se) && se.Status == http.StatusForbidden:
						refused++
					default:
						mu.Unlock()
						t.Errorf("upload: %v", err)
						return
					}
					mu.Unlock()
				}
			})
		}
		for i := range 48 { // 3 MiB offered against a 1 MiB quota
			work <- i
		}
		close(work)
		wg.Wait()
		used, err := store.Usage(ctx, n.Address("lab"))
		if err != nil {
			t.Fatal(err)
		}
		// the bound: what the other replica had in flight (its workers' uploads)
		bound := int64(quota + workers*size)
		if accepted > bound || used != accepted {
			t.Fatalf("accepted %d bytes (bound %d), the store counts %d", accepted, bound, used)
		}
		// one by one, each replica refuses exactly when the next blob does not fit
		blob := make([]byte, size)
		_, _ = rand.Read(blob)
		for i, c := range lab {
			err := c.Put(ctx, vault.Hash(sha256.Sum256(blob)), bytes.NewReader(blob), size)
			var se *vault.StatusError
			fits := used+size <= quota
			if fits != (err == nil) || (!fits && (!errors.As(err, &se) || se.Status != http.StatusForbidden)) {
				t.Fatalf("replica %d, %d of %d used: %v", i, used, quota, err)
			}
			if err == nil {
				used += size
			}
		}
		t.Logf("quota %d B, 48 concurrent uploads of %d B over two replicas: %d B accepted (bound %d), %d refused; the shared counter says %d",
			quota, size, accepted, bound, refused, used)
	})

	t.Run("the object store unreachable", func(t *testing.T) {
		c := client(r2, "hospital")
		blob := make([]byte, 4096)
		_, _ = rand.Read(blob)
		h := vault.Hash(sha256.Sum256(blob))
		sw.Kill()
		err := c.Put(ctx, h, bytes.NewReader(blob), int64(len(blob)))
		var se *vault.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || !strings.Contains(se.Message, "s3://"+sw.S3+"/vault/shared/") {
			t.Fatalf("an upload while the store is down: %v, want 503 naming s3://%s/vault/shared/", err, sw.S3)
		}
		if _, err := c.Get(ctx, h, io.Discard, 1<<20); err == nil {
			t.Fatal("a download while the store is down succeeded")
		}
		sw.Restart()
		// the vault recovers by itself: no restart, the next uploads succeed
		deadline := time.Now().Add(2 * time.Minute)
		for {
			err = c.Put(ctx, h, bytes.NewReader(blob), int64(len(blob)))
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			t.Fatalf("the vault did not recover when the store came back: %v", err)
		}
		if _, err := bucket.Stat(ctx, h); err != nil {
			t.Fatalf("the upload after the outage is not in the bucket: %v", err)
		}
		if !strings.Contains(se.Message, "nothing was stored") {
			t.Fatalf("the 503 does not say nothing was stored: %s", se.Message)
		}
	})
}

// s3StoreOf opens bucket "vault", prefix, of sw as the vault would.
func s3StoreOf(ctx context.Context, t *testing.T, sw *network.SeaweedFS, prefix string) *vault.S3Store {
	t.Helper()
	store, err := vault.NewS3Store(ctx, vault.S3Config{Endpoint: sw.S3, Bucket: "vault", Prefix: prefix, AccessKey: "any", SecretKey: "any", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return store
}
