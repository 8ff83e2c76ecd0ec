package vault

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cosmos/cosmos-sdk/codec"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	cryptocodec "github.com/cosmos/cosmos-sdk/crypto/codec"
	"github.com/cosmos/cosmos-sdk/crypto/hd"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"
)

var ac = addresscodec.NewBech32Codec("health")

// fakeChain answers as the chain would, from maps the test fills.
type fakeChain struct {
	mu        sync.Mutex
	uploaders map[string]bool
	receipts  map[string]bool // addr|hash
	committed map[Hash]bool
	erased    map[Hash]bool
	status    *ChainStatus // nil: healthy, at the wall clock
	known     map[string]bool
	// byReceipt: receipt id → the access it gives (the fake's ReceiptAccess)
	byReceipt map[uint64]ReceiptAccess
	// own: "addr|record id" → the access its patient gets (the fake's OwnAccess)
	own map[string]ReceiptAccess
}

func (c *fakeChain) OwnAccess(_ context.Context, addr string, ids []uint64) ([]ReceiptAccess, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ReceiptAccess, len(ids))
	for i, id := range ids {
		out[i] = c.own[fmt.Sprintf("%s|%d", addr, id)]
	}
	return out, nil
}

func (c *fakeChain) ReceiptAccess(_ context.Context, _ string, ids []uint64, _ time.Duration) ([]ReceiptAccess, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ReceiptAccess, len(ids))
	for i, id := range ids {
		out[i] = c.byReceipt[id]
	}
	return out, nil
}

func (c *fakeChain) Status(context.Context) (ChainStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != nil {
		return *c.status, nil
	}
	return ChainStatus{ChainID: "healthd-test-1", Height: 100, BlockTime: time.Now()}, nil
}

func (c *fakeChain) Known(_ context.Context, addr string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uploaders[addr] || c.known[addr], nil
}

func (c *fakeChain) MayUpload(_ context.Context, addr string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uploaders[addr], nil
}

func (c *fakeChain) ReadAccess(_ context.Context, addr string, h Hash, _ string, _ time.Duration) (bool, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.receipts[addr+"|"+h.String()], c.erased[h], nil
}

func (c *fakeChain) BlobStatus(_ context.Context, h Hash, _ string) (bool, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed[h], c.erased[h], nil
}

type env struct {
	t      testing.TB
	srv    *Server
	http   *httptest.Server
	chain  *fakeChain
	kr     keyring.Keyring
	dir    string
	addr   map[string]string
	verify *Verifier
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	reg := codectypes.NewInterfaceRegistry()
	cryptocodec.RegisterInterfaces(reg)
	kr := keyring.NewInMemory(codec.NewProtoCodec(reg))
	e := &env{
		t: t, kr: kr, dir: t.TempDir(), addr: map[string]string{},
		chain: &fakeChain{
			uploaders: map[string]bool{}, receipts: map[string]bool{}, committed: map[Hash]bool{}, erased: map[Hash]bool{}, known: map[string]bool{},
			byReceipt: map[uint64]ReceiptAccess{}, own: map[string]ReceiptAccess{},
		},
	}
	for _, name := range []string{"hospital", "lab", "stranger"} {
		rec, _, err := kr.NewMnemonic(name, keyring.English, hd.CreateHDPath(118, 0, 0).String(), "", hd.Secp256k1)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := rec.GetAddress()
		e.addr[name], _ = ac.BytesToString(a)
	}
	e.chain.uploaders[e.addr["hospital"]] = true
	e.chain.known[e.addr["lab"]] = true // a provider not allowed to upload; stranger is unknown
	store, err := NewDiskStore(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.verify = NewVerifier(ac, 5*time.Minute)
	e.srv, err = NewServer(context.Background(), cfg, store, e.chain, e.verify, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.http.Close)
	return e
}

func hashOf(b []byte) Hash { return sha256.Sum256(b) }

// do sends a request signed by who (unsigned if who is ""), at time at.
func (e *env) do(method string, h Hash, body []byte, who string, at time.Time) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+"/v1/blobs/"+h.String(), bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if who != "" {
		content := EmptySHA256
		if body != nil {
			sum := sha256.Sum256(body)
			content = hex.EncodeToString(sum[:])
		}
		if err := SignRequest(req, e.kr, who, e.addr[who], content, at); err != nil {
			e.t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestPutGetRoundTripAndReceiptGate(t *testing.T) {
	e := newEnv(t, Config{})
	blob := bytes.Repeat([]byte("ciphertext"), 1000)
	h := hashOf(blob)

	// when the hospital uploads, then it is stored
	if code, out := e.do(http.MethodPut, h, blob, "hospital", time.Now()); code != http.StatusCreated {
		t.Fatalf("put: %d %s", code, out)
	}
	// a reader without a receipt is refused
	if code, _ := e.do(http.MethodGet, h, nil, "lab", time.Now()); code != http.StatusForbidden {
		t.Fatalf("get without receipt: %d", code)
	}
	// with a receipt it gets the exact bytes
	e.chain.receipts[e.addr["lab"]+"|"+h.String()] = true
	code, out := e.do(http.MethodGet, h, nil, "lab", time.Now())
	if code != http.StatusOK || !bytes.Equal(out, blob) {
		t.Fatalf("get with receipt: %d, %d bytes", code, len(out))
	}
	// an erased record answers 410
	e.chain.erased[h] = true
	if code, _ := e.do(http.MethodGet, h, nil, "lab", time.Now()); code != http.StatusGone {
		t.Fatalf("get erased: %d", code)
	}
	// a receipt for a blob this vault does not hold answers 404
	other := hashOf([]byte("elsewhere"))
	e.chain.receipts[e.addr["lab"]+"|"+other.String()] = true
	if code, _ := e.do(http.MethodGet, other, nil, "lab", time.Now()); code != http.StatusNotFound {
		t.Fatalf("get missing: %d", code)
	}
}

func TestPutRefusals(t *testing.T) {
	e := newEnv(t, Config{MaxBlobSize: 1 << 20, QuotaBytes: 3000})
	blob := bytes.Repeat([]byte("x"), 2000)
	h := hashOf(blob)
	cases := []struct {
		name string
		do   func() int
		want int
	}{
		{"unsigned", func() int { c, _ := e.do(http.MethodPut, h, blob, "", time.Now()); return c }, http.StatusUnauthorized},
		{"not a patient or provider", func() int { c, _ := e.do(http.MethodPut, h, blob, "stranger", time.Now()); return c }, http.StatusForbidden},
		{"content under another name", func() int {
			c, _ := e.do(http.MethodPut, hashOf([]byte("other")), blob, "hospital", time.Now())
			return c
		}, http.StatusBadRequest},
		{"stale signature", func() int {
			c, _ := e.do(http.MethodPut, h, blob, "hospital", time.Now().Add(-10*time.Minute))
			return c
		}, http.StatusUnauthorized},
		{"signature from the future", func() int {
			c, _ := e.do(http.MethodPut, h, blob, "hospital", time.Now().Add(10*time.Minute))
			return c
		}, http.StatusUnauthorized},
		{"too large", func() int {
			big := make([]byte, 1<<20+1)
			c, _ := e.do(http.MethodPut, hashOf(big), big, "hospital", time.Now())
			return c
		}, http.StatusRequestEntityTooLarge},
		{"bad hash in the path", func() int {
			req, _ := http.NewRequest(http.MethodPut, e.http.URL+"/v1/blobs/xyz", bytes.NewReader(blob))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}, http.StatusBadRequest},
	}
	for _, tc := range cases {
		if got := tc.do(); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.want)
		}
	}
	if _, _, err := e.srv.store.Get(context.Background(), h); err != ErrNotFound {
		t.Fatalf("a refused upload was stored: %v", err)
	}

	// quota: the first 2000 bytes fit, the next 2000 do not
	if code, _ := e.do(http.MethodPut, h, blob, "hospital", time.Now()); code != http.StatusCreated {
		t.Fatalf("first put: %d", code)
	}
	blob2 := bytes.Repeat([]byte("y"), 2000)
	if code, out := e.do(http.MethodPut, hashOf(blob2), blob2, "hospital", time.Now()); code != http.StatusForbidden {
		t.Fatalf("over quota: %d %s", code, out)
	}
}

func TestSignatureChecks(t *testing.T) {
	e := newEnv(t, Config{})
	blob := []byte("ciphertext")
	h := hashOf(blob)
	req, _ := http.NewRequest(http.MethodPut, e.http.URL+"/v1/blobs/"+h.String(), bytes.NewReader(blob))
	if err := SignRequest(req, e.kr, "hospital", e.addr["hospital"], h.String(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify.Verify(req); err != nil {
		t.Fatalf("a good signature failed: %v", err)
	}
	// the same request again is a replay
	if _, err := e.verify.Verify(req); err == nil {
		t.Fatal("a replayed request passed")
	}
	// a signature by another key than the claimed address's
	req2, _ := http.NewRequest(http.MethodPut, e.http.URL+"/v1/blobs/"+h.String(), nil)
	if err := SignRequest(req2, e.kr, "lab", e.addr["lab"], h.String(), time.Now()); err != nil {
		t.Fatal(err)
	}
	req2.Header.Set(HeaderAddress, e.addr["hospital"])
	if _, err := e.verify.Verify(req2); err == nil {
		t.Fatal("a signature under another address passed")
	}
	// the signature covers the method, the vault's host, the path and the content hash
	for _, mutate := range []func(r *http.Request){
		func(r *http.Request) { r.Method = http.MethodGet },
		func(r *http.Request) { r.Host = "other-vault.example:8800" },
		func(r *http.Request) { r.URL.Path = "/v1/blobs/" + hashOf([]byte("x")).String() },
		func(r *http.Request) { r.Header.Set(HeaderContent, EmptySHA256) },
		func(r *http.Request) { r.Header.Set(HeaderNonce, strings.Repeat("0", 32)) },
	} {
		r3, _ := http.NewRequest(http.MethodPut, e.http.URL+"/v1/blobs/"+h.String(), nil)
		if err := SignRequest(r3, e.kr, "hospital", e.addr["hospital"], h.String(), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		mutate(r3)
		if _, err := e.verify.Verify(r3); err == nil {
			t.Fatal("a modified request passed")
		}
	}
}

// An interrupted upload leaves no blob that can be served, and the next start
// cleans its temporary file.
func TestCrashLeavesNoPartialBlob(t *testing.T) {
	dir := t.TempDir()
	store, err := NewDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	blob := bytes.Repeat([]byte("z"), 100_000)
	h := hashOf(blob)
	// a reader that dies half way, as a client or process would
	r := io.MultiReader(bytes.NewReader(blob[:50_000]), errReader{})
	if _, _, err := store.Put(context.Background(), h, r, 1<<20, "hospital"); err == nil {
		t.Fatal("an interrupted put succeeded")
	}
	if _, _, err := store.Get(context.Background(), h); err != ErrNotFound {
		t.Fatalf("a partial blob is visible: %v", err)
	}
	// what a process killed mid-put leaves is removed at start: a temp file, a
	// blob's metadata written before the blob's rename, an old-style temp
	// metadata file; a complete blob and its metadata stay
	if err := os.WriteFile(filepath.Join(dir, "tmp", "put-123"), blob[:10], 0o600); err != nil {
		t.Fatal(err)
	}
	kept := []byte("a complete blob")
	if _, _, err := store.Put(context.Background(), hashOf(kept), bytes.NewReader(kept), int64(len(kept)), "hospital"); err != nil {
		t.Fatal(err)
	}
	orphan := store.path(hashOf([]byte("never arrived")))
	if err := os.MkdirAll(filepath.Dir(orphan), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{orphan + ".json", filepath.Join(filepath.Dir(orphan), ".meta-42")} {
		if err := os.WriteFile(f, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.CleanTemp(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Fatalf("tmp/ still has %d files", len(entries))
	}
	if left, _ := os.ReadDir(filepath.Dir(orphan)); len(left) != 0 {
		t.Fatalf("stray metadata left: %v", left)
	}
	if _, _, err := store.Get(context.Background(), hashOf(kept)); err != nil {
		t.Fatalf("a complete blob was cleaned away: %v", err)
	}
	// and a second vault cannot open the same directory
	if _, err := NewDiskStore(dir); err == nil {
		t.Fatal("two stores opened the same directory")
	}

	// and the whole blob, stored afterwards, reads back exactly
	if _, created, err := store.Put(context.Background(), h, bytes.NewReader(blob), int64(len(blob)), "hospital"); err != nil || !created {
		t.Fatalf("put: %v created %v", err, created)
	}
	rc, info, err := store.Get(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, blob) || info.Size != int64(len(blob)) {
		t.Fatal("stored blob differs")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestGarbageCollection(t *testing.T) {
	e := newEnv(t, Config{UncommittedTTL: time.Hour})
	put := func(s string) Hash {
		b := []byte(s)
		if code, out := e.do(http.MethodPut, hashOf(b), b, "hospital", time.Now()); code != http.StatusCreated {
			t.Fatalf("put %s: %d %s", s, code, out)
		}
		return hashOf(b)
	}
	committed, erased, fresh, stale := put("committed"), put("erased"), put("fresh"), put("stale")
	e.chain.committed[committed] = true
	e.chain.committed[erased] = true
	e.chain.erased[erased] = true
	e.srv.now = func() time.Time { return time.Now().Add(2 * time.Hour) } // stale's TTL passed…
	// …but fresh is re-stamped as just uploaded
	store := e.srv.store.(countedStore).Store.(*DiskStore)
	store.now = e.srv.now
	if err := store.Delete(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Put(context.Background(), fresh, bytes.NewReader([]byte("fresh")), 5, e.addr["hospital"]); err != nil {
		t.Fatal(err)
	}

	e.chain.status = &ChainStatus{ChainID: "healthd-test-1", Height: 100, BlockTime: e.srv.now()}

	n, err := e.srv.CollectGarbage(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("collected %d (%v), want 2 (erased and stale)", n, err)
	}
	for h, want := range map[Hash]bool{committed: true, fresh: true, erased: false, stale: false} {
		_, _, err := store.Get(context.Background(), h)
		if (err == nil) != want {
			t.Errorf("blob %s present=%v, want %v", h.String()[:8], err == nil, want)
		}
	}
	// the erased record's blob is gone for good; the never-committed upload is in quarantine
	quarantined := func(h Hash) bool {
		_, err := os.Stat(filepath.Join(e.dir, "quarantine", h.String()))
		return err == nil
	}
	if quarantined(erased) || !quarantined(stale) {
		t.Fatalf("quarantine holds erased=%v stale=%v, want false, true", quarantined(erased), quarantined(stale))
	}
	// and the quarantine is purged once the retention has passed
	e.srv.now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	e.chain.status = &ChainStatus{ChainID: "healthd-test-1", Height: 101, BlockTime: e.srv.now()}
	if _, err := e.srv.CollectGarbage(context.Background()); err != nil || quarantined(stale) {
		t.Fatalf("after the retention: %v, still quarantined %v", err, quarantined(stale))
	}
}

// TestReuploadRestartsTheTTL: an uncommitted blob its uploader sends again
// (an interrupted import run again, whose resources seal to the same
// ciphertext) is not swept before the new run commits it; another account's
// upload of the same bytes does not keep it.
func TestReuploadRestartsTheTTL(t *testing.T) {
	e := newEnv(t, Config{UncommittedTTL: time.Hour})
	e.chain.uploaders[e.addr["lab"]] = true
	again, other := []byte("sent again by its uploader"), []byte("sent again by someone else")
	for _, b := range [][]byte{again, other} {
		if code, out := e.do(http.MethodPut, hashOf(b), b, "hospital", time.Now()); code != http.StatusCreated {
			t.Fatalf("put: %d %s", code, out)
		}
	}
	// given two hours later (past the TTL) the uploader sends one again, and lab the other
	later := time.Now().Add(2 * time.Hour)
	e.srv.now = func() time.Time { return later }
	if code, out := e.do(http.MethodPut, hashOf(again), again, "hospital", time.Now()); code != http.StatusOK {
		t.Fatalf("re-put by the uploader: %d %s", code, out)
	}
	if code, out := e.do(http.MethodPut, hashOf(other), other, "lab", time.Now()); code != http.StatusOK {
		t.Fatalf("put by another account: %d %s", code, out)
	}
	e.chain.status = &ChainStatus{ChainID: "healthd-test-1", Height: 100, BlockTime: later}

	// when the sweep runs
	n, err := e.srv.CollectGarbage(context.Background())

	// then only the blob its uploader did not send again is quarantined
	if err != nil || n != 1 {
		t.Fatalf("collected %d (%v), want 1", n, err)
	}
	store := e.srv.store.(countedStore).Store.(*DiskStore)
	if _, _, err := store.Get(context.Background(), hashOf(again)); err != nil {
		t.Fatalf("the blob sent again was swept: %v", err)
	}
	if info, err := store.Stat(context.Background(), hashOf(other)); err == nil {
		t.Fatalf("the blob another account sent is still served: %+v", info)
	}
	if used, err := store.Usage(context.Background(), e.addr["hospital"]); err != nil || used != int64(len(again)) {
		t.Fatalf("hospital's usage %d (%v), want %d", used, err, len(again))
	}
}

// TestSweepRefusesAnUnfitNode: a node of another chain, reset or resyncing
// below the height the vault has seen, catching up, or behind says "not found"
// of records that exist; the sweep then removes nothing, and says why.
func TestSweepRefusesAnUnfitNode(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name   string
		status ChainStatus
		want   string
	}{
		{"another chain", ChainStatus{ChainID: "other-chain", Height: 500, BlockTime: now}, "on chain"},
		{"reset below the height seen", ChainStatus{ChainID: "healthd-test-1", Height: 3, BlockTime: now}, "below the 100"},
		{"catching up", ChainStatus{ChainID: "healthd-test-1", Height: 120, BlockTime: now, CatchingUp: true}, "catching up"},
		{"behind", ChainStatus{ChainID: "healthd-test-1", Height: 120, BlockTime: now.Add(-10 * time.Minute)}, "old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, Config{UncommittedTTL: time.Nanosecond, ChainStateFile: filepath.Join(dir, "chain.json")})
			// given a sweep against the right node has pinned chain and height
			if _, err := e.srv.CollectGarbage(context.Background()); err != nil {
				t.Fatal(err)
			}
			b := []byte("a live upload " + tc.name)
			if code, out := e.do(http.MethodPut, hashOf(b), b, "hospital", time.Now()); code != http.StatusCreated {
				t.Fatalf("put: %d %s", code, out)
			}
			// when the node is unfit
			e.chain.status = &tc.status
			n, err := e.srv.CollectGarbage(context.Background())
			// then nothing is removed, with a reason
			if !errors.Is(err, ErrChainUnfit) || !strings.Contains(err.Error(), tc.want) || n != 0 {
				t.Fatalf("sweep = %d, %v; want ErrChainUnfit saying %q", n, err, tc.want)
			}
			if _, err := e.srv.store.Stat(context.Background(), hashOf(b)); err != nil {
				t.Fatalf("the upload is gone: %v", err)
			}
		})
	}
}

// BenchmarkVault1MiB measures signed uploads and downloads of 1 MiB blobs over
// loopback HTTP, disk store included (fsync on every put).
func BenchmarkVault1MiB(b *testing.B) {
	e := newEnv(b, Config{})
	blob := make([]byte, 1<<20)
	first := slices.Clone(blob)
	n := 0 // across the runs the framework makes: every put is a new blob
	b.Run("put", func(b *testing.B) {
		b.SetBytes(1 << 20)
		for i := 0; b.Loop(); i++ {
			n++
			copy(blob, fmt.Sprintf("blob %d", n))
			if n == 1 {
				copy(first, blob)
			}
			if code, out := e.do(http.MethodPut, hashOf(blob), blob, "hospital", time.Now()); code != http.StatusCreated {
				b.Fatalf("put: %d %s", code, out)
			}
		}
	})
	blobs := [][]byte{first}
	h := hashOf(blobs[0])
	e.chain.receipts[e.addr["lab"]+"|"+h.String()] = true
	b.Run("get", func(b *testing.B) {
		b.SetBytes(1 << 20)
		for b.Loop() {
			if code, out := e.do(http.MethodGet, h, nil, "lab", time.Now()); code != http.StatusOK || len(out) != 1<<20 {
				b.Fatalf("get: %d", code)
			}
		}
	})
}

func TestReviewFixes(t *testing.T) {
	e := newEnv(t, Config{QuotaBytes: 3000})

	// a body without Content-Length (chunked) is refused before it is read
	blob := bytes.Repeat([]byte("c"), 1000)
	h := hashOf(blob)
	req, _ := http.NewRequest(http.MethodPut, e.http.URL+"/v1/blobs/"+h.String(), io.NopCloser(bytes.NewReader(blob)))
	req.ContentLength = -1
	if err := SignRequest(req, e.kr, "hospital", e.addr["hospital"], h.String(), time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired {
		t.Fatalf("chunked upload: %d, want 411", resp.StatusCode)
	}

	// two concurrent uploads that each fit the quota but not together: one is
	// refused, because the first reserved its size before reading its body
	a := bytes.Repeat([]byte("a"), 2000)
	b := bytes.Repeat([]byte("b"), 2000)
	pr, pw := io.Pipe()
	reqA, _ := http.NewRequest(http.MethodPut, e.http.URL+"/v1/blobs/"+hashOf(a).String(), pr)
	reqA.ContentLength = int64(len(a))
	if err := SignRequest(reqA, e.kr, "hospital", e.addr["hospital"], hashOf(a).String(), time.Now()); err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		r, err := http.DefaultClient.Do(reqA)
		if err != nil {
			done <- 0
			return
		}
		r.Body.Close()
		done <- r.StatusCode
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		e.srv.mu.Lock()
		reserved := e.srv.reserved[e.addr["hospital"]]
		e.srv.mu.Unlock()
		if reserved == int64(len(a)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first upload never reserved its size")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, out := e.do(http.MethodPut, hashOf(b), b, "hospital", time.Now()); code != http.StatusForbidden {
		t.Fatalf("second concurrent upload: %d %s, want 403 (quota)", code, out)
	}
	if _, err := pw.Write(a); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-done; code != http.StatusCreated {
		t.Fatalf("first upload: %d", code)
	}

	// uploading an existing blob again says so, without who uploaded it or when
	code, out := e.do(http.MethodPut, hashOf(a), a, "hospital", time.Now())
	if code != http.StatusOK || bytes.Contains(out, []byte(e.addr["hospital"])) || bytes.Contains(out, []byte("uploaded_at")) {
		t.Fatalf("re-upload: %d %s", code, out)
	}

	// a replay with another base64 spelling of the same signature is a replay
	r1, _ := http.NewRequest(http.MethodGet, e.http.URL+"/v1/blobs/"+hashOf(a).String(), nil)
	if err := SignRequest(r1, e.kr, "lab", e.addr["lab"], EmptySHA256, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify.Verify(r1); err != nil {
		t.Fatal(err)
	}
	sig := []byte(r1.Header.Get(HeaderSignature))
	sig[len(sig)-3] ^= 1 // the last base64 digit's unused bits
	r1.Header.Set(HeaderSignature, string(sig))
	if _, err := e.verify.Verify(r1); err == nil {
		t.Fatal("a re-spelled signature replayed")
	}
}

// A vault that serves other bytes than the hash names is caught by the client.
func TestClientRejectsWrongBytes(t *testing.T) {
	e := newEnv(t, Config{})
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("not what you asked for"))
	}))
	defer evil.Close()
	c := &Client{BaseURL: evil.URL, Keyring: e.kr, UID: "lab", Address: e.addr["lab"]}
	if _, err := c.Get(context.Background(), hashOf([]byte("the real ciphertext")), io.Discard, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong bytes: %v, want ErrCorrupt", err)
	}
}

// A client that stalls mid-upload is cut off at its transfer deadline: it gets
// 408, nothing is stored, and its quota reservation is released.
func TestStalledUploadIsCutOff(t *testing.T) {
	e := newEnv(t, Config{TransferSlack: 300 * time.Millisecond, MinTransferRate: 1 << 30})
	blob := bytes.Repeat([]byte("c"), 4096)
	h := hashOf(blob)
	req, _ := http.NewRequest(http.MethodPut, e.http.URL+"/v1/blobs/"+h.String(), nil)
	if err := SignRequest(req, e.kr, "hospital", e.addr["hospital"], h.String(), time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", e.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.Path, req.Host, len(blob))
	if err := req.Header.Write(conn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(append([]byte("\r\n"), blob[:100]...)); err != nil {
		t.Fatal(err)
	}
	// … and then nothing more
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled upload: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	if _, err := e.srv.store.Stat(context.Background(), h); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a stalled upload left a blob: %v", err)
	}
	e.srv.mu.Lock()
	reserved := e.srv.reserved[e.addr["hospital"]]
	e.srv.mu.Unlock()
	used, err := e.srv.store.Usage(context.Background(), e.addr["hospital"])
	if err != nil {
		t.Fatal(err)
	}
	if reserved != 0 || used != 0 {
		t.Fatalf("after a stalled upload: reserved %d, used %d", reserved, used)
	}
	// and a client at normal speed still uploads
	if code, _ := e.do(http.MethodPut, h, blob, "hospital", time.Now()); code != http.StatusCreated {
		t.Fatalf("a normal upload after it: %d", code)
	}
}

// TestReplayCacheCannotBeFilled: only accounts known on chain are remembered,
// each within its own bound and rate, so neither fresh keys nor one busy
// account can lock anyone else out (the cache used to be one map of 2^20
// entries for every correctly signed request, even from unregistered keys).
func TestReplayCacheCannotBeFilled(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1, RateBurst: 5})
	blob := []byte("a blob")
	h := hashOf(blob)
	if code, out := e.do(http.MethodPut, h, blob, "hospital", time.Now()); code != http.StatusCreated {
		t.Fatalf("put: %d %s", code, out)
	}
	// a fresh key's requests are refused and never remembered
	for range 8 {
		if code, _ := e.do(http.MethodGet, h, nil, "stranger", time.Now()); code != http.StatusForbidden && code != http.StatusTooManyRequests {
			t.Fatalf("stranger: %d, want 403 or 429", code)
		}
	}
	e.verify.mu.Lock()
	remembered := len(e.verify.seen[e.addr["stranger"]])
	e.verify.mu.Unlock()
	if remembered != 0 {
		t.Fatalf("%d requests of an unknown key remembered", remembered)
	}
	// a known account past its burst gets 429 with Retry-After, and lab is not affected
	var codes []int
	for range 8 {
		code, _ := e.do(http.MethodGet, h, nil, "hospital", time.Now())
		codes = append(codes, code)
	}
	if !slices.Contains(codes, http.StatusTooManyRequests) {
		t.Fatalf("hospital's burst of 8 at 1/s, burst 5: %v, want a 429", codes)
	}
	if code, _ := e.do(http.MethodGet, h, nil, "lab", time.Now()); code != http.StatusForbidden {
		t.Fatalf("lab after hospital's burst: %d, want 403 (no receipt), not 429", code)
	}

	// and one account's replay cache is bounded on its own
	v := NewVerifier(ac, 5*time.Minute)
	now := time.Now()
	for i := range MaxRememberedPerAccount {
		if err := v.Remember(Signed{Address: "a", Nonce: fmt.Sprint(i), Timestamp: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Remember(Signed{Address: "a", Nonce: "one more", Timestamp: now}); !errors.Is(err, ErrTooManyRequests) {
		t.Fatalf("past the bound: %v", err)
	}
	if err := v.Remember(Signed{Address: "b", Nonce: "0", Timestamp: now}); err != nil {
		t.Fatalf("another account: %v", err)
	}
	if err := v.Remember(Signed{Address: "b", Nonce: "0", Timestamp: now}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a replay: %v", err)
	}
}

// hookStore runs hooks around a store's Usage and Put.
type hookStore struct {
	Store
	afterUsage func()
	beforePut  func()
}

func (h *hookStore) Usage(ctx context.Context, addr string) (int64, error) {
	n, err := h.Store.Usage(ctx, addr)
	if h.afterUsage != nil {
		h.afterUsage()
	}
	return n, err
}

func (h *hookStore) Put(ctx context.Context, hash Hash, r io.Reader, size int64, uploader string) (BlobInfo, bool, error) {
	if h.beforePut != nil {
		h.beforePut()
	}
	return h.Store.Put(ctx, hash, r, size, uploader)
}

// TestQuotaCountsAnUploadFinishingDuringTheCheck: an upload of the same
// replica that finishes between another upload's usage read and its check is
// not lost from the check (it was: its reservation was gone and the usage read
// before it landed, so a 100-byte quota took 150 bytes).
func TestQuotaCountsAnUploadFinishingDuringTheCheck(t *testing.T) {
	e := newEnv(t, Config{QuotaBytes: 100})
	hospital := e.addr["hospital"]
	blob := func(tag string) []byte { return bytes.Repeat([]byte(tag), 50) }
	ctx := context.Background()
	if res := e.srv.storeBlob(ctx, hashOf(blob("a")), bytes.NewReader(blob("a")), 50, hospital); res.Status != http.StatusCreated {
		t.Fatalf("first 50 bytes: %+v", res)
	}
	hs := &hookStore{Store: e.srv.store}
	e.srv.store = hs
	release, done := make(chan struct{}), make(chan stored)
	hs.beforePut = func() { hs.beforePut = nil; <-release } // upload B waits in its put
	go func() { done <- e.srv.storeBlob(ctx, hashOf(blob("b")), bytes.NewReader(blob("b")), 50, hospital) }()
	for { // B has reserved and passed its check
		e.srv.mu.Lock()
		r := e.srv.reserved[hospital]
		e.srv.mu.Unlock()
		if r == 50 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var resB stored
	hs.afterUsage = func() { // C read the usage (50); now B finishes
		hs.afterUsage = nil
		close(release)
		resB = <-done
	}
	resC := e.srv.storeBlob(ctx, hashOf(blob("c")), bytes.NewReader(blob("c")), 50, hospital)
	if resB.Status != http.StatusCreated || resC.Status != http.StatusForbidden {
		t.Fatalf("B %d, C %d: want 201 and 403 (quota 100, 50 stored before)", resB.Status, resC.Status)
	}
	if used, _ := e.srv.store.Usage(ctx, hospital); used != 100 {
		t.Fatalf("usage %d, want 100", used)
	}
}
