package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cosmos/cosmos-sdk/codec"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	cryptocodec "github.com/cosmos/cosmos-sdk/crypto/codec"
	"github.com/cosmos/cosmos-sdk/crypto/hd"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"

	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/internal/localnet"
	"github.com/healthd-chain/healthd/testutil/network"
	"github.com/healthd-chain/healthd/vault"
)

// TestAttacks is the security regression suite: each subtest is one attack on a
// patient's consent, made from the outside (CLI, signed vault requests, REST)
// against one node and one vault that every subtest shares, and each must be
// refused. A subtest leaves the chain usable for the next: it grants what it
// needs and uses its own accounts where it suspends or revokes something.
func TestAttacks(t *testing.T) {
	n := network.StartNode(t)
	v := network.StartVault(t, n)
	a := &attacker{t: t, n: n, v: v, kr: nodeKeyring(t, n.Home), dir: t.TempDir()}

	// Finding 1: lab, holding any write consent from alice, commits a record for
	// alice that carries the hash of alice's own upload, takes a receipt on its
	// own record as its author, and downloads alice's blob.
	t.Run("copied content hash opens a patient-uploaded blob", func(t *testing.T) {
		a.t = t
		alice, lab := n.Address("alice"), n.Address("lab")
		// given alice filed her own mental-health record, and lab may write her lab results
		id := a.put("alice", alice, "mental-health", "PATRQT", "Session notes QJX-5519")
		rec := a.record(id)
		a.grant("alice", lab, "lab-result", "write", false)

		// when lab commits a record of its own for alice with alice's hash
		res := n.Exec("tx", "records", "create", "TREAT", a.entry("lab-result", rec.ContentHash, "1024", a.epoch(alice, "lab-result")),
			"--patient", alice, "--from", "lab", "--yes")

		// then the chain refuses a hash that is already committed
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "content hash is already committed") {
			t.Fatalf("lab committed alice's hash in a record of its own: exit %d, %s", res.ExitCode, res.Stderr)
		}
		// and, had it got through, lab has no receipt on alice's record: the vault refuses
		if _, err := a.vault("lab").Get(context.Background(), hashOf(t, rec.ContentHash), io.Discard, 1<<20); !isStatus(err, http.StatusForbidden) {
			t.Fatalf("lab downloads alice's blob: %v, want 403", err)
		}
	})

	// Finding 1, raced: alice has uploaded but not yet committed; lab, which saw
	// the hash (in the mempool, say), commits it first in a record of its own for
	// alice, takes a receipt on that record, and downloads alice's blob.
	t.Run("front-run commit of a patient's upload opens the blob", func(t *testing.T) {
		a.t = t
		alice, lab := n.Address("alice"), n.Address("lab")
		// given alice's upload, not yet committed, and lab's write consent
		ct, h := a.seal(alice, "mental-health", "Therapy intake VQP-2290")
		if err := a.vault("alice").Put(context.Background(), h, bytes.NewReader(ct), int64(len(ct))); err != nil {
			t.Fatal(err)
		}
		a.grant("alice", lab, "lab-result", "write", false)

		// when lab commits the hash first, for alice, and reads its own record
		a.cli("tx", "records", "create", "TREAT", a.entry("lab-result", base64.StdEncoding.EncodeToString(h[:]), strconv.Itoa(len(ct)),
			a.epoch(alice, "lab-result")), "--patient", alice, "--from", "lab", "--yes")
		labRecord := newestRecordOf(t, n, alice)
		if labRecord.Author != lab {
			t.Fatalf("newest record %+v is not lab's", labRecord)
		}
		a.cli("tx", "records", "access", labRecord.ID, "TREAT", "--from", "lab", "--yes")

		// then the vault refuses: lab's record is not one the uploader committed
		if _, err := a.vault("lab").Get(context.Background(), h, io.Discard, 1<<20); !isStatus(err, http.StatusForbidden) {
			t.Fatalf("lab downloads alice's uncommitted blob through its own record: %v, want 403", err)
		}
	})

	// Finding 2: bob, alice's delegate, gives clinic a consent whose key grant
	// claims (lab-result, epoch 4096) and wraps a key bob chose; from then on the
	// clinic encrypts alice's new lab results under a key bob knows.
	t.Run("a delegate plants a class key", func(t *testing.T) {
		a.t = t
		alice, bob, clinic := n.Address("alice"), n.Address("bob"), n.Address("clinic")
		// given bob is alice's delegate
		a.cli("tx", "consent", "add-delegate", bob, time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339), "--from", "alice", "--yes")

		// when bob grants the clinic a consent for alice carrying a key of his own
		bobKey := bytes.Repeat([]byte{0xb0}, 32)
		clinicPub := a.publishedKey(clinic)
		planted, err := crypto.WrapClassKey(clinicPub, bobKey, crypto.KeyContext{Patient: alice, DataClass: "lab-result", Epoch: crypto.MaxKeyEpoch})
		if err != nil {
			t.Fatal(err)
		}
		res := n.Exec("tx", "consent", "grant", clinic, "--patient", alice, "--classes", "lab-result", "--purposes", "TREAT",
			"--permissions", "read,write", "--expires", "1h", "--key-grants", base64.StdEncoding.EncodeToString(planted), "--from", "bob", "--yes")

		// then the chain refuses key grants that the patient did not sign
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "only the patient") {
			// had it got through, show what it costs: the clinic's next record is bob's to read
			id := a.put("clinic", alice, "lab-result", "TREAT", "Potassium 6.1 mmol/L HXK-4410")
			rec := a.record(id)
			epoch, _ := strconv.ParseUint(a.epoch(alice, "lab-result"), 10, 64)
			key, err := crypto.RegressClassKey(bobKey, crypto.MaxKeyEpoch, epoch)
			if err != nil {
				t.Fatal(err)
			}
			env, _ := base64.StdEncoding.DecodeString(rec.KeyEnvelope)
			h, _ := base64.StdEncoding.DecodeString(rec.ContentHash)
			_, openErr := crypto.UnwrapDataKey(key, env, crypto.KeyContext{Patient: alice, DataClass: "lab-result", Epoch: epoch}, h)
			t.Fatalf("a delegate's key grant was accepted (exit %d, %s); the clinic's record %s opens with bob's key: %v",
				res.ExitCode, res.Stderr, id, openErr == nil)
		}
	})

	// Finding 2, epochs: a delegate who loops grant-with-keys and revoke pushes
	// alice's epochs past the last one clients can derive, locking every writer
	// out of the class for good. Only the patient's own revoke rotates.
	t.Run("a delegate's revoke rotates the patient's class key", func(t *testing.T) {
		a.t = t
		alice, clinic := n.Address("alice"), n.Address("clinic")
		// given alice granted the clinic vital-signs with the key
		before := a.epoch(alice, "vital-signs")
		id := a.grant("alice", clinic, "vital-signs", "read", true)

		// when bob, her delegate, revokes it
		a.cli("tx", "consent", "revoke", id, "--from", "bob", "--yes")

		// then the consent is revoked, but the epoch moves only by alice's hand
		if c := a.consent(id); c.Status != "CONSENT_STATUS_REVOKED" {
			t.Fatalf("consent %s is %s after the delegate's revoke", id, c.Status)
		}
		if after := a.epoch(alice, "vital-signs"); after != before {
			t.Fatalf("a delegate's revoke moved alice's vital-signs epoch %s -> %s", before, after)
		}
	})

	// Finding 9: clinic, whose consent alice has just revoked, replays the
	// receipt it took before the revocation at the vault, which served any
	// receipt for 15 minutes.
	t.Run("a receipt outlives the revocation at the vault", func(t *testing.T) {
		a.t = t
		alice, clinic := n.Address("alice"), n.Address("clinic")
		// given clinic reads alice's allergy record with her consent (a receipt)
		consent := a.grant("alice", clinic, "allergy", "read", true)
		id := a.put("alice", alice, "allergy", "PATRQT", "Penicillin anaphylaxis RTB-8812")
		rec := a.record(id)
		if res := n.Exec("records", "get", id, "--purpose", "TREAT", "--out", filepath.Join(a.dir, "clinic-allergy.json"),
			"--from", "clinic", "--keyring-backend", "test"); res.ExitCode != 0 {
			t.Fatalf("clinic's read with consent: %s", res.Stderr)
		}

		// when alice revokes the consent and clinic asks the vault again at once
		a.cli("tx", "consent", "revoke", consent, "--from", "alice", "--yes")
		_, err := a.vault("clinic").Get(context.Background(), hashOf(t, rec.ContentHash), io.Discard, 1<<20)

		// then the vault follows the chain's decision now, not the receipt's
		if !isStatus(err, http.StatusForbidden) {
			t.Fatalf("clinic downloads after the revocation with its old receipt: %v, want 403", err)
		}
	})

	// Batched and by-receipt downloads (issue #15): lab names a receipt that
	// bob took for his own record, on the one-receipt route and in a batch.
	t.Run("someone else's receipt id opens a blob by receipt", func(t *testing.T) {
		a.t = t
		bob := n.Address("bob")
		id := a.put("bob", bob, "diagnosis", "PATRQT", "Hypothyroidism KLM-2291")
		rec := a.record(id)
		var got struct {
			ReceiptID json.Number `json:"receipt_id"`
		}
		// (bob's own reads need no receipt; he takes one anyway, as anyone may)
		a.cli("tx", "records", "access", id, "PATRQT", "--from", "bob", "--yes")
		rs := receiptsOf(t, n, bob)
		got.ReceiptID = json.Number(rs[len(rs)-1].ID)
		receipt, err := strconv.ParseUint(got.ReceiptID.String(), 10, 64)
		if err != nil || receipt == 0 || rs[len(rs)-1].RecordID != id {
			t.Fatalf("bob's receipt %+v", rs[len(rs)-1])
		}
		h := hashOf(t, rec.ContentHash)
		ctx := context.Background()
		// bob's own receipt opens his blob on both routes
		if _, err := a.vault("bob").GetByReceipt(ctx, receipt, h, io.Discard, 1<<20); err != nil {
			t.Fatalf("bob by his receipt: %v", err)
		}
		if res, err := a.vault("bob").GetBatch(ctx, []vault.Wanted{{Receipt: receipt, Hash: h, MaxSize: 1 << 20}}); err != nil || res[0].Err != nil {
			t.Fatalf("bob's batch: %v %v", err, res)
		}
		// lab, naming bob's receipt, gets nothing on either route
		if _, err := a.vault("lab").GetByReceipt(ctx, receipt, h, io.Discard, 1<<20); !isStatus(err, http.StatusForbidden) {
			t.Fatalf("lab by bob's receipt: %v, want 403", err)
		}
		res, err := a.vault("lab").GetBatch(ctx, []vault.Wanted{{Receipt: receipt, Hash: h, MaxSize: 1 << 20}, {Receipt: 1 << 40, Hash: h, MaxSize: 1 << 20}})
		if err != nil || !isStatus(res[0].Err, http.StatusForbidden) || res[0].Data != nil || !isStatus(res[1].Err, http.StatusForbidden) {
			t.Fatalf("lab's batch with bob's receipt and an unknown one: %v %+v, want 403 each", err, res)
		}
	})

	// Finding 3 (and 9): lab, a provider that also registered as a patient
	// (anyone may), keeps reading the records it authored after the registrar
	// suspends it, on chain and at the vault with a receipt taken before.
	t.Run("a suspended provider registered as a patient reads what it authored", func(t *testing.T) {
		a.t = t
		alice, lab := n.Address("alice"), n.Address("lab")
		// given lab is also a registered patient, and authored a record for alice
		keyFile := filepath.Join(a.dir, "lab.key")
		a.cli("keys", "encryption-key", "lab", "--out-file", keyFile, "--keyring-backend", "test")
		a.cli("tx", "consent", "register-patient", keyFile, "--from", "lab", "--yes")
		labConsent := a.grant("alice", lab, "procedure", "read,write", true)
		hospitalConsent := a.grant("alice", n.Address("hospital"), "procedure", "read", true)
		id := a.put("lab", alice, "procedure", "TREAT", "Colonoscopy findings WPL-3307")
		rec := a.record(id)
		a.cli("tx", "records", "access", id, "TREAT", "--from", "lab", "--yes")

		// when the registrar suspends lab
		a.cli("tx", "providers", "set-status", lab, "suspended", "security-incident", "--from", "registrar", "--yes")
		defer a.cli("tx", "providers", "set-status", lab, "active", "issue-resolved", "--from", "registrar", "--yes")

		// then the vault refuses the receipt it took before
		if _, err := a.vault("lab").Get(context.Background(), hashOf(t, rec.ContentHash), io.Discard, 1<<20); !isStatus(err, http.StatusForbidden) {
			t.Fatalf("suspended lab downloads with its earlier receipt: %v, want 403", err)
		}
		// and the chain refuses it a new receipt as the record's author
		if res := n.Exec("tx", "records", "access", id, "TREAT", "--from", "lab", "--yes"); res.ExitCode == 0 ||
			!strings.Contains(res.Stderr, "ACCESS_REASON_PROVIDER_INACTIVE") {
			t.Fatalf("suspended lab takes a receipt on its own record: exit %d, %s", res.ExitCode, res.Stderr)
		}
		// and the chain's answer to the client says why
		var d accessDecision
		q := "patient=" + alice + "&grantee=" + lab + "&data_class=procedure&permission=read&purpose=TREAT&author=" + lab
		if err := n.GetJSON("/healthd/consent/v1/check_access?"+q, &d); err != nil || d.Allowed || d.Reason != "ACCESS_REASON_PROVIDER_INACTIVE" {
			t.Fatalf("check_access for the suspended author = %+v, %v", d, err)
		}
		// and when alice revokes another keyed consent of the class, the
		// suspended lab is not handed the new key
		var revoked struct {
			Rekeyed []uint64 `json:"rekeyed_consents"`
		}
		n.CLIJSON(&revoked, "records", "revoke", hospitalConsent, "--from", "alice", "--keyring-backend", "test")
		for _, id := range revoked.Rekeyed {
			if strconv.FormatUint(id, 10) == labConsent {
				t.Fatalf("re-keying handed the suspended lab's consent %s the new key (%v)", labConsent, revoked.Rekeyed)
			}
		}
	})

	// Finding 12: lab races hospital's upload of the same bytes and finishes
	// second; the vault recorded the last writer as the uploader, so the
	// hospital's own record no longer opened its blob (and lab's would).
	t.Run("a second upload of the same bytes takes the blob over", func(t *testing.T) {
		a.t = t
		alice, hospital := n.Address("alice"), n.Address("hospital")
		a.grant("alice", hospital, "immunization", "write", true)
		ct, h := a.seal(alice, "immunization", "Hepatitis B dose 2 LMN-6620")

		// when hospital and lab upload the same ciphertext at once, hospital finishing first
		upload := func(name string) (*io.PipeWriter, chan error) {
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() { done <- a.vault(name).Put(context.Background(), h, pr, int64(len(ct))) }()
			if _, err := pw.Write(ct[:len(ct)-1]); err != nil {
				t.Fatal(err)
			}
			return pw, done
		}
		hospitalPipe, hospitalDone := upload("hospital")
		labPipe, labDone := upload("lab")
		for _, step := range []struct {
			pw   *io.PipeWriter
			done chan error
		}{{hospitalPipe, hospitalDone}, {labPipe, labDone}} {
			if _, err := step.pw.Write(ct[len(ct)-1:]); err != nil {
				t.Fatal(err)
			}
			_ = step.pw.Close()
			if err := <-step.done; err != nil {
				t.Fatalf("upload: %v", err)
			}
		}

		// then the first writer stays the uploader: hospital's record opens the blob for alice
		entry := a.entry("immunization", base64.StdEncoding.EncodeToString(h[:]), strconv.Itoa(len(ct)), a.epoch(alice, "immunization"))
		a.cli("tx", "records", "create", "TREAT", entry, "--patient", alice, "--from", "hospital", "--yes")
		rec := newestRecordOf(t, n, alice)
		a.cli("tx", "records", "access", rec.ID, "PATRQT", "--from", "alice", "--yes")
		if _, err := a.vault("alice").Get(context.Background(), h, io.Discard, 1<<20); err != nil {
			t.Fatalf("alice reads hospital's record after lab's racing upload: %v", err)
		}
	})

	// Finding 16: a third-party client (a web wallet) sets a consent's start to
	// its own clock's now; the block that includes it is later, and the chain
	// refused the grant as "in the past".
	t.Run("a consent starting at the client's now is refused", func(t *testing.T) {
		a.t = t
		start := time.Now().Add(-8 * time.Second).UTC().Format(time.RFC3339)
		res := n.Exec("tx", "consent", "grant", n.Address("clinic"), "--classes", "imaging", "--purposes", "TREAT", "--permissions", "read",
			"--start", start, "--expires", "24h", "--from", "alice", "--yes")
		if res.ExitCode != 0 {
			t.Fatalf("grant starting 8 s ago: exit %d, %s", res.ExitCode, res.Stderr)
		}
		if c := a.consent(newestConsent(t, n, "/healthd/consent/v1/grantees/"+n.Address("clinic")+"/consents").ID); c.Status != "CONSENT_STATUS_ACTIVE" {
			t.Fatalf("the consent is %s", c.Status)
		}
	})

	// Finding 13: sloppy arguments do something else than asked: a typo in a
	// record id reads another record, and --gc-interval 0 crashes the vault.
	t.Run("sloppy numeric arguments act on something else", func(t *testing.T) {
		a.t = t
		res := n.Exec("records", "get", "1abc", "--purpose", "TREAT", "--out", filepath.Join(a.dir, "sloppy.json"), "--from", "clinic", "--keyring-backend", "test")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `record id "1abc" is not an id`) {
			t.Fatalf("records get 1abc: exit %d, %s", res.ExitCode, res.Stderr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, n.Binary, "vault", "start", "--home", n.Home, "--data", filepath.Join(a.dir, "vault-gc0"),
			"--listen", "127.0.0.1:0", "--chain-grpc", n.GRPC, "--gc-interval", "0")
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ctx.Err() != nil || err == nil || strings.Contains(stderr.String(), "panic") || !strings.Contains(stderr.String(), "--gc-interval must be positive") {
			t.Fatalf("vault start --gc-interval 0: %v (timed out: %v)\n%s", err, ctx.Err() != nil, stderr.String())
		}
	})

	// Finding 8: whoever can put one record alice cannot open on her list (a
	// provider's junk envelope, a copied hash) made her whole `fhir export` fail.
	// The earlier subtests left two such records: lab's front-run one and the
	// hospital's immunization record with a junk envelope.
	t.Run("one record that does not open aborts a whole export", func(t *testing.T) {
		a.t = t
		out := filepath.Join(a.dir, "alice-export.json")
		res := n.Exec("fhir", "export", "--purpose", "PATRQT", "--vault", v.URL, "--out", out, "--from", "alice", "--keyring-backend", "test")
		if res.ExitCode != 0 {
			t.Fatalf("alice's export: exit %d, %s", res.ExitCode, res.Stderr)
		}
		var report struct {
			Exported int `json:"exported"`
			NotRead  []struct {
				RecordID json.Number `json:"record_id"`
				Reason   string      `json:"reason"`
			} `json:"not_read"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &report); err != nil {
			t.Fatalf("export output %q: %v", res.Stdout, err)
		}
		unopened := 0
		for _, nr := range report.NotRead {
			if strings.Contains(nr.Reason, "could not be opened") {
				unopened++
			}
		}
		bundle, err := os.ReadFile(out)
		if err != nil || unopened < 2 || report.Exported == 0 || !bytes.Contains(bundle, []byte("QJX-5519")) {
			t.Fatalf("export: %d exported, %d not opened (%+v), bundle has alice's first record: %v (%v)",
				report.Exported, unopened, report.NotRead, bytes.Contains(bundle, []byte("QJX-5519")), err)
		}
	})

	// Finding 10: the portal's "one-time" login link could be used again, by
	// anyone who later found it (shell history, the URL file, a screenshot),
	// and its session cookie was the link's secret itself, valid for ever.
	t.Run("the portal's login link works twice", func(t *testing.T) {
		a.t = t
		p := network.StartPortal(t, n, "bob", v.URL)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		open := func() (int, []*http.Cookie) {
			resp, err := client.Get(p.Login)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode, resp.Cookies()
		}
		code, cookies := open()
		if code != http.StatusSeeOther || len(cookies) != 1 {
			t.Fatalf("first use of the link: %d, %d cookies", code, len(cookies))
		}
		if token := p.Login[strings.Index(p.Login, "token=")+len("token="):]; cookies[0].Value == token {
			t.Fatal("the session cookie is the link's secret")
		}
		if code, cookies := open(); code != http.StatusUnauthorized || len(cookies) != 0 {
			t.Fatalf("second use of the link: %d with %d cookies, want 401 and none", code, len(cookies))
		}
	})

	// Finding 7: erasing a record left its earlier versions on chain and in the
	// vault: the patient erased the amendment, and the original stayed readable.
	t.Run("erasing a record leaves its earlier versions readable", func(t *testing.T) {
		a.t = t
		alice := n.Address("alice")
		// given alice's note and an amendment of it
		first := a.put("alice", alice, "clinical-note", "PATRQT", "Discharge summary ZPR-7702")
		_, fresh := a.seal(alice, "clinical-note", "amended")
		a.cli("tx", "records", "amend", first, "PATRQT", a.entry("clinical-note", base64.StdEncoding.EncodeToString(fresh[:]), "100",
			a.epoch(alice, "clinical-note")), "--from", "alice", "--yes")
		amended := newestRecordOf(t, n, alice)
		if a.record(first).Status != "RECORD_STATUS_SUPERSEDED" {
			t.Fatalf("record %s after the amendment: %s", first, a.record(first).Status)
		}

		// when alice erases the amendment
		a.cli("tx", "records", "erase", amended.ID, "--from", "alice", "--yes")

		// then the original is erased with it, and the vault answers 410 for it
		if r := a.record(first); r.Status != "RECORD_STATUS_ERASED" || r.KeyEnvelope != "" || r.StorageURI != "" {
			t.Fatalf("the original after erasing its amendment: %+v", r)
		}
		// (410 until the vault's sweep, every 2 s here, deletes it; 404 after)
		if _, err := a.vault("alice").Get(context.Background(), hashOf(t, a.record(first).ContentHash), io.Discard, 1<<20); !errors.Is(err, vault.ErrGone) &&
			!isStatus(err, http.StatusNotFound) {
			t.Fatalf("the original's blob after the erasure: %v, want 410 or 404", err)
		}
	})

	// Finding 11: the record's author chooses its storage URI, so a provider
	// could point alice's reads at any host (a loopback admin service, its own
	// collector) and have her client send it her signed requests.
	t.Run("a storage URI sends the reader's signed requests anywhere", func(t *testing.T) {
		a.t = t
		alice, hospital := n.Address("alice"), n.Address("hospital")
		// given a listener on a loopback address no provider registered
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 10)
		collector := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.Header.Get(vault.HeaderAddress)
			w.WriteHeader(http.StatusNotFound)
		}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = collector.Serve(ln) }()
		defer collector.Close()
		// and a record the hospital filed for alice that points there
		a.grant("alice", hospital, "vital-signs", "write", false)
		_, h := a.seal(alice, "vital-signs", "redirected")
		entry, _ := json.Marshal(map[string]string{
			"data_class": "vital-signs", "fhir_resource_type": "Observation", "content_hash": base64.StdEncoding.EncodeToString(h[:]),
			"size": "100", "storage_uri": "vault://" + ln.Addr().String() + "/" + h.String(),
			"key_envelope": base64.StdEncoding.EncodeToString([]byte("junk")), "key_epoch": a.epoch(alice, "vital-signs"),
		})
		a.cli("tx", "records", "create", "TREAT", string(entry), "--patient", alice, "--from", "hospital", "--yes")
		rec := newestRecordOf(t, n, alice)

		// when alice reads it without naming a vault
		res := n.Exec("records", "get", rec.ID, "--purpose", "PATRQT", "--out", filepath.Join(a.dir, "redirected.json"),
			"--from", "alice", "--keyring-backend", "test")

		// then her client refuses the unregistered host, and nothing reached it
		select {
		case who := <-got:
			t.Fatalf("the collector received a signed request of %s", who)
		default:
		}
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "vault host not registered on chain") {
			t.Fatalf("records get of a record stored at an unregistered host: exit %d, %s", res.ExitCode, res.Stderr)
		}
	})

	// Finding 5: the vault remembered every correctly signed request before any
	// chain check, in one cache of 2^20 entries for everyone: a fresh key's
	// flood filled it and every user got 401. (The full-size flood is out of a
	// test's reach; TestReplayCacheCannotBeFilled checks the bounds in process.)
	t.Run("a flood of signed requests locks everyone out of the vault", func(t *testing.T) {
		a.t = t
		alice := n.Address("alice")
		id := a.put("alice", alice, "other", "PATRQT", "Travel vaccination plan KHV-5521")
		h := hashOf(t, a.record(id).ContentHash)
		a.grant("alice", n.Address("lab"), "other", "read", false) // lab may read it, once it takes a receipt
		// the flooder's key lives in memory: the node's file keyring signs a few requests a second
		reg := codectypes.NewInterfaceRegistry()
		cryptocodec.RegisterInterfaces(reg)
		mem := keyring.NewInMemory(codec.NewProtoCodec(reg))
		rec, _, err := mem.NewMnemonic("flooder", keyring.English, hd.CreateHDPath(118, 0, 0).String(), "", hd.Secp256k1)
		if err != nil {
			t.Fatal(err)
		}
		flooderBytes, _ := rec.GetAddress()
		flooder, err := addresscodec.NewBech32Codec("health").BytesToString(flooderBytes)
		if err != nil {
			t.Fatal(err)
		}
		send := func(name string, reuse http.Header) (int, http.Header) {
			req, err := http.NewRequest(http.MethodGet, v.URL+"/v1/blobs/"+h.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			kr, addr := a.kr, ""
			if name == "flooder" {
				kr, addr = mem, flooder
			} else if name != "" {
				addr = n.Address(name)
			}
			if reuse != nil {
				req.Header = reuse.Clone()
			} else if err := vault.SignRequest(req, kr, name, addr, vault.EmptySHA256, time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode, req.Header
		}
		// given a fresh key nobody registered, and lab's request refused for want of a receipt
		code, early := send("lab", nil)
		if code != http.StatusForbidden {
			t.Fatalf("lab before its receipt: %d, want 403", code)
		}

		// when the fresh key floods the vault past its rate
		counts := map[int]int{}
		for range 400 {
			c, _ := send("flooder", nil)
			counts[c]++
		}
		// then it is refused (403, then 429) and never served
		if counts[http.StatusOK] > 0 || counts[http.StatusUnauthorized] > 0 || counts[http.StatusTooManyRequests] == 0 {
			t.Fatalf("an unregistered key's flood was answered %v; want 403s and 429s", counts)
		}
		// and lab, once it holds its receipt, is served
		a.cli("tx", "records", "access", id, "TREAT", "--from", "lab", "--yes")
		if c, _ := send("lab", nil); c != http.StatusOK {
			t.Fatalf("lab after the flood: %d, want 200", c)
		}
		// but its earlier request, refused then, is not replayable now that the receipt landed
		if c, _ := send("", early); c != http.StatusUnauthorized {
			t.Fatalf("a replay of lab's refused request after its receipt: %d, want 401", c)
		}
	})

	// Finding 6: the vault's sweep took the node's "not found" for "never
	// committed": a vault pointed at a node that was reset (same chain id,
	// fresh state) deleted every blob older than the upload TTL. (Last: it
	// needs the shared node to be well past the fresh one's height.)
	t.Run("a reset node makes the vault delete live blobs", func(t *testing.T) {
		a.t = t
		alice := n.Address("alice")
		// given alice's committed record, and the shared vault has swept since
		id := a.put("alice", alice, "genomic", "PATRQT", "BRCA2 c.5946delT TQS-1184")
		h := hashOf(t, a.record(id).ContentHash)
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(v.Data, "chain.json")); err == nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(3 * time.Second) // one more sweep, after the upload

		// when the vault's data is served beside a node reset to genesis
		data := filepath.Join(a.dir, "vault-on-reset-node")
		if err := localnet.CopyTree(v.Data, data); err != nil {
			t.Fatal(err)
		}
		reset := network.StartNode(t)
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		var logs bytes.Buffer
		cmd := exec.CommandContext(ctx, n.Binary, "vault", "start", "--home", reset.Home, "--data", data, "--listen", "127.0.0.1:0",
			"--chain-grpc", reset.GRPC, "--gc-interval", "1s", "--uncommitted-ttl", "1s")
		cmd.Stderr = &logs
		_ = cmd.Run() // ended by the timeout, after several sweeps

		// then alice's blob is still where it was, and the vault said why it did not sweep
		blob := filepath.Join(data, "blobs", h.String()[:2], h.String()[2:4], h.String())
		if _, err := os.Stat(blob); err != nil {
			t.Fatalf("alice's committed blob is gone from a vault beside a reset node: %v\n%s", err, logs.String())
		}
		if !strings.Contains(logs.String(), "sweep skipped") || !strings.Contains(logs.String(), "below the") {
			t.Fatalf("the vault did not say why it skipped the sweep:\n%s", logs.String())
		}
	})

	// Finding 4: an approved provider could rename itself (to another
	// hospital's name, with look-alike or bidirectional characters) or swap its
	// credential without any review, and stay active.
	t.Run("an approved provider renames itself to pass for another", func(t *testing.T) {
		a.t = t
		clinic := n.Address("clinic")
		// a bidirectional override or a Cyrillic look-alike is not a name
		for _, name := range []string{"Localnet \u202eGeneral Hospital", "Localnet General H\u043espital"} {
			if res := n.Exec("tx", "providers", "update", "--name", name, "--from", "clinic", "--yes"); res.ExitCode == 0 ||
				!strings.Contains(res.Stderr, "invalid name") {
				t.Errorf("name %q: exit %d, %s", name, res.ExitCode, res.Stderr)
			}
		}
		// when the clinic takes the hospital's name
		a.cli("tx", "providers", "update", "--name", "Localnet General Hospital", "--from", "clinic", "--yes")
		// then it is pending until a registrar approves the new identity, and reads nothing meanwhile
		v := getProvider(t, n, clinic)
		if v.Provider.Status != "PROVIDER_STATUS_PENDING" || v.IsActive {
			t.Fatalf("the renamed clinic: %+v", v)
		}
		if d := checkAccess(t, n, n.Address("alice"), clinic, "imaging", "read", "TREAT"); d.Allowed || d.Reason != "ACCESS_REASON_PROVIDER_INACTIVE" {
			t.Fatalf("the renamed clinic's access: %+v", d)
		}
		// and an approval names the credential it reviewed: back to its name, approved again
		a.cli("tx", "providers", "update", "--name", "Localnet Family Clinic", "--from", "clinic", "--yes")
		var p struct {
			Provider struct {
				CredentialHash []byte `json:"credential_hash"`
			} `json:"provider"`
		}
		if err := n.GetJSON("/healthd/providers/v1/providers/"+clinic, &p); err != nil {
			t.Fatal(err)
		}
		expires := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
		if res := n.Exec("tx", "providers", "approve", clinic, expires, strings.Repeat("00", 32), "--from", "registrar", "--yes"); res.ExitCode == 0 ||
			!strings.Contains(res.Stderr, "not the one reviewed") {
			t.Fatalf("an approval naming another credential: exit %d, %s", res.ExitCode, res.Stderr)
		}
		a.cli("tx", "providers", "approve", clinic, expires, hex.EncodeToString(p.Provider.CredentialHash), "--from", "registrar", "--yes")
		if v := getProvider(t, n, clinic); !v.IsActive {
			t.Fatalf("the clinic after its re-approval: %+v", v)
		}
	})

	// The read policy of a person's own data (docs/architecture.md, "Reading
	// one's own records"): the patient reads her records without a receipt, so
	// the vault has a receipt-free path; anybody else who tries it (the author,
	// a provider holding a consent, another patient) is refused, and the
	// patient's path takes no receipt.
	t.Run("the receipt-free read of a patient's own records opens nothing to anybody else", func(t *testing.T) {
		a.t = t
		alice, hospital := n.Address("alice"), n.Address("hospital")
		a.grant("alice", hospital, "lab-result", "read,write", true)
		mine := a.put("alice", alice, "allergy", "PATRQT", "Peanut allergy ZKL-3071")
		theirs := a.put("hospital", alice, "lab-result", "TREAT", "HbA1c 7.9 % RWT-8812")
		ids := make([]uint64, 2)
		want := make([]vault.Wanted, 2)
		for i, id := range []string{mine, theirs} {
			rec := a.record(id)
			ids[i], _ = strconv.ParseUint(id, 10, 64)
			want[i] = vault.Wanted{Record: ids[i], Hash: hashOf(t, rec.ContentHash), MaxSize: 1 << 20}
		}
		before := len(receiptsOf(t, n, alice))

		// when the record's author, a provider with a live read consent and
		// another patient ask the vault for alice's records as their patient
		for _, who := range []string{"hospital", "lab", "bob"} {
			got, err := a.vault(who).GetBatch(context.Background(), want)
			if err != nil {
				t.Fatalf("%s's batch: %v", who, err)
			}
			// then every item is refused
			for i, g := range got {
				if !isStatus(g.Err, http.StatusForbidden) || g.Data != nil {
					t.Fatalf("%s reads alice's record %d as if it were her: %v (%d bytes)", who, ids[i], g.Err, len(g.Data))
				}
			}
		}
		// and the hash route without a receipt opens nothing for the author either
		if _, err := a.vault("hospital").Get(context.Background(), want[1].Hash, io.Discard, 1<<20); !isStatus(err, http.StatusForbidden) {
			t.Fatalf("the author downloads without a receipt: %v, want 403", err)
		}

		// while alice reads both, by record and by hash, and takes no receipt
		got, err := a.vault("alice").GetBatch(context.Background(), want)
		if err != nil || got[0].Err != nil || got[1].Err != nil {
			t.Fatalf("alice's own batch: %v %+v", err, got)
		}
		out := filepath.Join(a.dir, "own.json")
		var read struct {
			ReceiptID json.Number `json:"receipt_id"`
		}
		n.CLIJSON(&read, "records", "get", theirs, "--out", out, "--from", "alice", "--keyring-backend", "test")
		if plain, err := os.ReadFile(out); err != nil || !strings.Contains(string(plain), "RWT-8812") || read.ReceiptID.String() != "0" {
			t.Fatalf("alice's records get: receipt %s, %q, %v", read.ReceiptID, plain, err)
		}
		if after := len(receiptsOf(t, n, alice)); after != before {
			t.Fatalf("alice's own reads took %d receipts", after-before)
		}

		// and once she erases a record, nobody reads it, not even her
		a.cli("tx", "records", "erase", mine, "--from", "alice", "--yes")
		if got, err := a.vault("alice").GetBatch(context.Background(), want[:1]); err != nil || !errors.Is(got[0].Err, vault.ErrGone) {
			t.Fatalf("alice reads her erased record: %v %+v", err, got)
		}
	})
}

// attacker drives the shared node and vault of TestAttacks.
type attacker struct {
	t   *testing.T
	n   *network.Node
	v   *network.Vault
	kr  keyring.Keyring
	dir string
	seq int
}

func (a *attacker) cli(args ...string) string {
	a.t.Helper()
	return a.n.CLI(args...)
}

func (a *attacker) vault(name string) *vault.Client {
	return &vault.Client{BaseURL: a.v.URL, Keyring: a.kr, UID: name, Address: a.n.Address(name)}
}

// put files plaintext for patient as key name with `healthd records put` and
// returns the record id.
func (a *attacker) put(name, patient, class, purpose, plaintext string) string {
	a.t.Helper()
	a.seq++
	f := filepath.Join(a.dir, "put-"+strconv.Itoa(a.seq)+".json")
	if err := os.WriteFile(f, []byte(`{"resourceType":"Observation","note":"`+plaintext+`"}`), 0o600); err != nil {
		a.t.Fatal(err)
	}
	var out struct {
		RecordID json.Number `json:"record_id"`
	}
	a.n.CLIJSON(&out, "records", "put", f, "--patient", patient, "--class", class, "--purpose", purpose,
		"--fhir-type", "Observation", "--vault", a.v.URL, "--from", name, "--keyring-backend", "test")
	return out.RecordID.String()
}

// grant has name (the patient or a delegate) grant grantee one class, with
// the patient's key grant when withKey, and returns the consent id.
func (a *attacker) grant(name, grantee, class, perms string, withKey bool) string {
	a.t.Helper()
	args := []string{
		"tx", "consent", "grant", grantee, "--classes", class, "--purposes", "TREAT", "--permissions", perms,
		"--expires", "720h", "--from", name, "--yes",
	}
	if withKey {
		args = append(args, strings.Fields(a.cli("records", "key-grants", grantee, "--classes", class, "--from", name, "--keyring-backend", "test"))...)
	}
	a.cli(args...)
	return newestConsent(a.t, a.n, "/healthd/consent/v1/grantees/"+grantee+"/consents").ID
}

func (a *attacker) record(id string) recordView {
	a.t.Helper()
	var r struct {
		Record recordView `json:"record"`
	}
	if err := a.n.GetJSON("/healthd/records/v1/records/"+id, &r); err != nil {
		a.t.Fatal(err)
	}
	return r.Record
}

func (a *attacker) consent(id string) consentView {
	a.t.Helper()
	var c struct {
		Consent consentView `json:"consent"`
	}
	if err := a.n.GetJSON("/healthd/consent/v1/consents/"+id, &c); err != nil {
		a.t.Fatal(err)
	}
	return c.Consent
}

// epoch is the patient's current class-key epoch of class, as the chain says.
func (a *attacker) epoch(patient, class string) string {
	a.t.Helper()
	var resp struct {
		Epochs []struct {
			DataClass string `json:"data_class"`
			Epoch     string `json:"epoch"`
		} `json:"epochs"`
	}
	if err := a.n.GetJSON("/healthd/consent/v1/patients/"+patient+"/key_epochs", &resp); err != nil {
		a.t.Fatal(err)
	}
	for _, e := range resp.Epochs {
		if e.DataClass == class {
			return e.Epoch
		}
	}
	return "1"
}

func (a *attacker) publishedKey(addr string) []byte {
	a.t.Helper()
	var p struct {
		Provider struct {
			EncryptionKey []byte `json:"encryption_key"`
		} `json:"provider"`
	}
	if err := a.n.GetJSON("/healthd/providers/v1/providers/"+addr, &p); err != nil {
		a.t.Fatal(err)
	}
	return p.Provider.EncryptionKey
}

// seal encrypts plaintext as a record of patient's under a fresh data key and
// returns the ciphertext and its hash.
func (a *attacker) seal(patient, class, plaintext string) ([]byte, vault.Hash) {
	a.t.Helper()
	dk, err := crypto.NewDataKey()
	if err != nil {
		a.t.Fatal(err)
	}
	var ct bytes.Buffer
	w, err := crypto.NewRecordWriter(&ct, dk, crypto.Header{DataClass: class, Patient: patient, FHIRResourceType: "Observation"})
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := io.WriteString(w, plaintext); err != nil {
		a.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		a.t.Fatal(err)
	}
	return ct.Bytes(), vault.Hash(sha256.Sum256(ct.Bytes()))
}

// entry is a record entry for `tx records create` with a junk key envelope.
func (a *attacker) entry(class, hashB64, size, epoch string) string {
	a.t.Helper()
	b, err := json.Marshal(map[string]string{
		"data_class": class, "fhir_resource_type": "Observation", "content_hash": hashB64, "size": size,
		"storage_uri": "vault://localnet/copied", "key_envelope": base64.StdEncoding.EncodeToString([]byte("junk envelope")),
		"key_epoch": epoch,
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}

func hashOf(t *testing.T, b64 string) vault.Hash {
	t.Helper()
	var h vault.Hash
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != len(h) {
		t.Fatalf("content hash %q: %v", b64, err)
	}
	copy(h[:], raw)
	return h
}

func isStatus(err error, status int) bool {
	var se *vault.StatusError
	return errors.As(err, &se) && se.Status == status
}
