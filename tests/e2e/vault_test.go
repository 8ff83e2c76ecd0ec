package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cosmos/cosmos-sdk/codec"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	cryptocodec "github.com/cosmos/cosmos-sdk/crypto/codec"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"

	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/testutil/network"
	"github.com/healthd-chain/healthd/vault"
)

// A distinctive FHIR resource: its strings must never appear outside the client.
const labResultFHIR = `{"resourceType":"Observation","status":"final","code":{"text":"Serum ferritin ZQXJ-7731"},` +
	`"subject":{"display":"Marguerite Vandenbroucke-Oyelaran"},"valueQuantity":{"value":412,"unit":"ng/mL"}}`

func nodeKeyring(t *testing.T, home string) keyring.Keyring {
	t.Helper()
	reg := codectypes.NewInterfaceRegistry()
	cryptocodec.RegisterInterfaces(reg)
	kr, err := keyring.New("healthd", keyring.BackendTest, home, nil, codec.NewProtoCodec(reg))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestEncryptedRecordThroughTheVault(t *testing.T) {
	// given a node and a vault beside it
	n := network.StartNode(t)
	v := network.StartVault(t, n)
	kr := nodeKeyring(t, n.Home)
	alice, hospital, lab := n.Address("alice"), n.Address("hospital"), n.Address("lab")
	client := func(name, addr string) *vault.Client {
		return &vault.Client{BaseURL: v.URL, Keyring: kr, UID: name, Address: addr}
	}
	ctx := context.Background()
	keyCtx := crypto.KeyContext{Patient: alice, DataClass: "lab-result", Epoch: 1}

	// and alice's class key for lab-result, epoch 1 (derived from her own key),
	// wrapped to hospital
	alicePriv, err := crypto.EncryptionKeyFromKeyring(kr, "alice", alice)
	if err != nil {
		t.Fatal(err)
	}
	classKey, err := crypto.PatientClassKey(alicePriv, keyCtx)
	if err != nil {
		t.Fatal(err)
	}
	grantFor := func(name string) string {
		priv, err := crypto.EncryptionKeyFromKeyring(kr, name, n.Address(name))
		if err != nil {
			t.Fatal(err)
		}
		g, err := crypto.WrapClassKey(priv.PublicKey().Bytes(), classKey, keyCtx)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(g)
	}
	n.CLI("tx", "consent", "grant", hospital, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read,write",
		"--expires", "720h", "--key-grants", grantFor("hospital"), "--from", "alice", "--yes")

	// when hospital encrypts a lab result, uploads the ciphertext and commits it
	dataKey, _ := crypto.NewDataKey()
	var ct bytes.Buffer
	w, err := crypto.NewRecordWriter(&ct, dataKey, crypto.Header{DataClass: "lab-result", Patient: alice, FHIRResourceType: "Observation"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, labResultFHIR); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	hash := vault.Hash(sha256.Sum256(ct.Bytes()))
	if err := client("hospital", hospital).Put(ctx, hash, bytes.NewReader(ct.Bytes()), int64(ct.Len())); err != nil {
		t.Fatalf("hospital's upload: %v", err)
	}
	envelope, err := crypto.WrapDataKey(classKey, dataKey, keyCtx, hash[:])
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := json.Marshal(map[string]string{
		"data_class": "lab-result", "fhir_resource_type": "Observation", "content_hash": base64.StdEncoding.EncodeToString(hash[:]),
		"size": strconv.Itoa(ct.Len()), "storage_uri": "vault://localnet/" + hash.String(),
		"key_envelope": base64.StdEncoding.EncodeToString(envelope), "key_epoch": "1",
	})
	n.CLI("tx", "records", "create", "TREAT", string(entry), "--patient", alice, "--from", "hospital", "--yes")
	records := newestRecordOf(t, n, alice)

	// then lab, without consent or receipt, cannot download
	var se *vault.StatusError
	if _, err := client("lab", lab).Get(ctx, hash, io.Discard, 1<<20); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Fatalf("lab without receipt: %v, want 403", err)
	}
	// and a stranger cannot upload
	junk := []byte("not a record")
	if err := client("bob", n.Address("bob")).Put(ctx, vault.Hash(sha256.Sum256(junk)), bytes.NewReader(junk), int64(len(junk))); err != nil {
		// bob is a registered patient: patients may upload their own
		t.Fatalf("bob (a patient) could not upload: %v", err)
	}

	// when alice grants lab read (with lab's key grant) and lab records a read
	n.CLI("tx", "consent", "grant", lab, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read",
		"--expires", "720h", "--key-grants", grantFor("lab"), "--from", "alice", "--yes")
	n.CLI("tx", "records", "access", records.ID, "TREAT", "--from", "lab", "--yes")

	// then lab downloads the ciphertext, checks its hash, unwraps the class key
	// from its consent with its own derived key, and decrypts the original bytes
	var got bytes.Buffer
	if _, err := client("lab", lab).Get(ctx, hash, &got, 1<<20); err != nil {
		t.Fatalf("lab with a receipt: %v", err)
	}
	if vault.Hash(sha256.Sum256(got.Bytes())) != hash {
		t.Fatal("downloaded ciphertext does not match the on-chain hash")
	}
	labConsent := newestConsent(t, n, "/healthd/consent/v1/grantees/"+lab+"/consents")
	var c struct {
		Consent struct {
			KeyGrants []string `json:"key_grants"`
		} `json:"consent"`
	}
	if err := n.GetJSON("/healthd/consent/v1/consents/"+labConsent.ID, &c); err != nil || len(c.Consent.KeyGrants) != 1 {
		t.Fatalf("lab's consent key grants: %v %v", c.Consent.KeyGrants, err)
	}
	grant, _ := base64.StdEncoding.DecodeString(c.Consent.KeyGrants[0])
	labPriv, err := crypto.EncryptionKeyFromKeyring(kr, "lab", lab)
	if err != nil {
		t.Fatal(err)
	}
	labClassKey, grantCtx, err := crypto.UnwrapClassKey(labPriv, grant, alice)
	if err != nil || grantCtx != keyCtx {
		t.Fatalf("lab cannot open its key grant: %v (context %+v)", err, grantCtx)
	}
	var rec struct {
		Record struct {
			KeyEnvelope string `json:"key_envelope"`
		} `json:"record"`
	}
	if err := n.GetJSON("/healthd/records/v1/records/"+records.ID, &rec); err != nil {
		t.Fatal(err)
	}
	env, _ := base64.StdEncoding.DecodeString(rec.Record.KeyEnvelope)
	labDataKey, err := crypto.UnwrapDataKey(labClassKey, env, keyCtx, hash[:])
	if err != nil {
		t.Fatalf("lab cannot open the key envelope: %v", err)
	}
	h, r, err := crypto.NewRecordReader(&got, labDataKey)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil || string(plain) != labResultFHIR || h.Patient != alice {
		t.Fatalf("decrypted %q (%v), header %+v", plain, err, h)
	}

	// when bob copies the hash from the chain into a record of his own, the
	// chain refuses it: a content hash is committed once, ever, so no record of
	// his can open the blob or keep it alive (tests/e2e/attacks_test.go has the
	// attack in full)
	copied, _ := json.Marshal(map[string]string{
		"data_class": "lab-result", "fhir_resource_type": "Observation", "content_hash": base64.StdEncoding.EncodeToString(hash[:]),
		"size": strconv.Itoa(ct.Len()), "storage_uri": "vault://localnet/" + hash.String(),
		"key_envelope": base64.StdEncoding.EncodeToString([]byte("not a real envelope")), "key_epoch": "1",
	})
	if res := n.Exec("tx", "records", "create", "PATRQT", string(copied), "--from", "bob", "--yes"); res.ExitCode == 0 ||
		!strings.Contains(res.Stderr, "content hash is already committed") {
		t.Fatalf("bob committed a copied hash: exit %d, %s", res.ExitCode, res.Stderr)
	}
	if _, err := client("bob", n.Address("bob")).Get(ctx, hash, io.Discard, 1<<20); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Fatalf("bob downloads a hash he copied: %v, want 403", err)
	}

	// when alice erases the record, the vault answers 410 and the sweep deletes
	// the blob
	n.CLI("tx", "records", "erase", records.ID, "--from", "alice", "--yes")
	if _, err := client("lab", lab).Get(ctx, hash, io.Discard, 1<<20); !errors.Is(err, vault.ErrGone) {
		t.Fatalf("after erase: %v, want 410", err)
	}
	blobPath := filepath.Join(v.Data, "blobs", hash.String()[:2], hash.String()[2:4], hash.String())
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(blobPath); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the erased record's blob is still in the vault after 30 s")
		}
		time.Sleep(500 * time.Millisecond)
	}

	// and no plaintext ever reached the node's or the vault's data (the scan
	// itself is checked first on a file that does contain it)
	control := t.TempDir()
	if err := os.WriteFile(filepath.Join(control, "leak"), []byte(labResultFHIR), 0o600); err != nil {
		t.Fatal(err)
	}
	if findInTree(t, control, "ZQXJ-7731") == "" {
		t.Fatal("the plaintext scan does not find what is there")
	}
	for _, needle := range []string{"ZQXJ-7731", "Vandenbroucke-Oyelaran", "Serum ferritin"} {
		for _, dir := range []string{n.Home, v.Data} {
			if f := findInTree(t, dir, needle); f != "" {
				t.Fatalf("plaintext %q found in %s", needle, f)
			}
		}
	}
}

func newestRecordOf(t *testing.T, n *network.Node, patient string) recordView {
	t.Helper()
	var resp struct {
		Records []recordView `json:"records"`
	}
	if err := n.GetJSON("/healthd/records/v1/patients/"+patient+"/records", &resp); err != nil || len(resp.Records) == 0 {
		t.Fatalf("records of %s: %+v %v", patient, resp, err)
	}
	return resp.Records[len(resp.Records)-1]
}

// findInTree returns the first file under dir containing needle, or "".
func findInTree(t *testing.T, dir, needle string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(needle)) {
			found = p
		}
		return nil
	})
	return found
}

// TestVaultCrashKeepsEveryAcknowledgedBlob: the vault killed -9 in the middle
// of concurrent uploads restarts, every upload it acknowledged is intact, and no
// partial blob exists to be served.
func TestVaultCrashKeepsEveryAcknowledgedBlob(t *testing.T) {
	n := network.StartNode(t)
	v := network.StartVault(t, n)
	kr := nodeKeyring(t, n.Home)
	c := &vault.Client{BaseURL: v.URL, Keyring: kr, UID: "hospital", Address: n.Address("hospital")}

	var mu sync.Mutex
	acked := map[vault.Hash][]byte{}
	attempts := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				blob := make([]byte, 3<<20)
				_, _ = rand.Read(blob)
				h := vault.Hash(sha256.Sum256(blob))
				err := c.Put(context.Background(), h, bytes.NewReader(blob), int64(len(blob)))
				mu.Lock()
				attempts++
				if err == nil {
					acked[h] = blob
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	v.Kill() // mid-upload: three are in flight
	close(stop)
	wg.Wait()
	v.Restart()
	v.Stop()

	// then every acknowledged blob is there, byte for byte, and every blob on
	// disk hashes to its name (the store's own listing)
	store, err := vault.NewDiskStore(v.Data)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for h, want := range acked {
		rc, _, err := store.Get(context.Background(), h)
		if err != nil {
			t.Fatalf("acknowledged blob %s lost: %v", h, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("acknowledged blob %s changed", h)
		}
	}
	stored := 0
	err = store.List(context.Background(), func(info vault.BlobInfo) error {
		stored++
		h, err := vault.ParseHash(info.Hash)
		if err != nil {
			return err
		}
		rc, _, err := store.Get(context.Background(), h)
		if err != nil {
			return err
		}
		defer rc.Close()
		sum := sha256.New()
		n, _ := io.Copy(sum, rc)
		if vault.Hash(sum.Sum(nil)) != h || n != info.Size {
			return fmt.Errorf("blob %s on disk is partial or corrupt (%d bytes)", h, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(acked) == 0 {
		t.Fatal("no upload was acknowledged before the crash")
	}
	t.Logf("%d uploads attempted, %d acknowledged before kill -9; after the restart %d blobs on disk, all whole, every acknowledged one intact",
		attempts, len(acked), stored)
}
