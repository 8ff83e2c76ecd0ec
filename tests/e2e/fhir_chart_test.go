package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/internal/localnet"
	"github.com/healthd-chain/healthd/testutil/network"
)

// TestFHIRChartAttacks: what puts wrong or duplicate data in a patient's
// chart, or internals in an EHR's hands, tried from the outside (issue #30)
// against one node, one vault and two organizations' FHIR servers whose MRN
// tables collide: the hospital's H-1 is alice, the lab's H-1 is bob and the
// lab's L-9 is alice.
func TestFHIRChartAttacks(t *testing.T) {
	n := network.StartNode(t)
	v := network.StartVault(t, n)
	alice, bob, hospital, lab := n.Address("alice"), n.Address("bob"), n.Address("hospital"), n.Address("lab")
	kr := []string{"--keyring-backend", "test"}
	dir := t.TempDir()
	key, clients := benchClient(t, dir)
	key0 := key
	hospitalMRNs, labMRNs := filepath.Join(dir, "hospital-mrns.json"), filepath.Join(dir, "lab-mrns.json")
	n.CLI("fhir", "patients", "set", "H-1", alice, "--patients", hospitalMRNs)
	n.CLI("fhir", "patients", "set", "H-2", bob, "--patients", hospitalMRNs)
	n.CLI("fhir", "patients", "set", "H-1", bob, "--patients", labMRNs)
	n.CLI("fhir", "patients", "set", "L-9", alice, "--patients", labMRNs)
	classes := "diagnosis,lab-result,vital-signs,prescription,allergy,immunization,procedure,clinical-note,imaging,other"
	for _, p := range []string{"alice", "bob"} {
		n.CLI(append([]string{
			"consent", "grant", hospital, "--classes", classes, "--purposes", "TREAT", "--permissions", "read,write",
			"--expires", "720h", "--from", p, "--yes",
		}, kr...)...)
	}
	fh := network.StartFHIRServer(t, n, "hospital", v.URL, clients, hospitalMRNs)
	fl := network.StartFHIRServer(t, n, "lab", v.URL, clients, labMRNs)
	hTok, lTok := benchToken(t, fh.URL, key), benchToken(t, fl.URL, key)

	// Finding 1: the hospital files an Observation about its H-1 (alice); the
	// lab, whose H-1 is bob, reads it under alice's consent and files it in
	// the chart its EHR keys by subject.
	t.Run("another organization's MRN is served inside resources", func(t *testing.T) {
		// given the hospital filed alice's potassium as Patient/H-1
		obs := labObservation("Patient/H-1", "K-20261207", "6.1")
		res := fhirDo(t, http.MethodPost, fh.URL+"/Observation", hTok, obs, nil)
		if res.status != http.StatusCreated {
			t.Fatalf("hospital create: %d %s", res.status, res.body)
		}
		id := resourceID(t, res.location)
		// and alice lets the lab read her lab results
		n.CLI(append([]string{
			"consent", "grant", lab, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read",
			"--expires", "720h", "--from", "alice", "--yes",
		}, kr...)...)

		// when the lab searches alice's observations by its own MRN for her
		var found searchset
		if res := fhirDo(t, http.MethodGet, fl.URL+"/Observation?patient=L-9", lTok, nil, &found); res.status != http.StatusOK {
			t.Fatalf("lab search: %d %s", res.status, res.body)
		}

		// then the resource names her as the lab knows her, and the hospital's MRN is gone
		got := found.resource(t, id)
		if sub := subjectOf(t, got); sub != "Patient/L-9" {
			t.Fatalf("the lab reads subject %q, want Patient/L-9:\n%s", sub, got)
		}
		if bytes.Contains(got, []byte("H-1")) {
			t.Fatalf("the hospital's MRN reaches the lab:\n%s", got)
		}
		// and the lab's H-1 (bob) does not get alice's result
		var bobs searchset
		fhirDo(t, http.MethodGet, fl.URL+"/Observation?patient=H-1", lTok, nil, &bobs)
		if bobs.has(id) {
			t.Fatal("the lab's search for its H-1 (bob) returns alice's observation")
		}
		// and the hospital still reads it as its H-1
		var own json.RawMessage
		if res := fhirDo(t, http.MethodGet, fh.URL+"/Observation/"+id, hTok, nil, &own); res.status != http.StatusOK || subjectOf(t, own) != "Patient/H-1" {
			t.Fatalf("the hospital reads %d %s", res.status, own)
		}
		// and alice's own export names no MRN at all
		out := filepath.Join(t.TempDir(), "alice.json")
		n.CLI(append([]string{"fhir", "export", "--out", out, "--from", "alice"}, kr...)...)
		exported, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(exported, []byte("H-1")) || bytes.Contains(exported, []byte("L-9")) || !bytes.Contains(exported, []byte("urn:healthd:account")) {
			t.Fatalf("alice's export names an MRN or not her account:\n%s", exported)
		}
	})

	// Finding 2, FHIR: the EHR posts a transaction Bundle, the answer is lost,
	// and it posts the same Bundle again, as HTTP clients retry.
	t.Run("a retried transaction Bundle files its records twice", func(t *testing.T) {
		bundle := transactionOf(labObservation("Patient/H-2", "NA-1", "139"), labObservation("Patient/H-2", "CL-1", "101"),
			labObservation("Patient/H-2", "CL-1", "101")) // the same result twice in one Bundle: two records
		before := recordCount(t, n, bob)
		var first, second searchset
		if res := fhirDo(t, http.MethodPost, fh.URL, hTok, bundle, &first); res.status != http.StatusOK {
			t.Fatalf("first post: %d %s", res.status, res.body)
		}
		if got := recordCount(t, n, bob) - before; got != 3 {
			t.Fatalf("the transaction filed %d records, want 3", got)
		}

		// when the same Bundle comes again
		if res := fhirDo(t, http.MethodPost, fh.URL, hTok, bundle, &second); res.status != http.StatusOK {
			t.Fatalf("second post: %d %s", res.status, res.body)
		}

		// then nothing more is filed, and each entry answers with the first's location
		if got := recordCount(t, n, bob) - before; got != 3 {
			t.Fatalf("after the retry bob has %d new records, want 3", got)
		}
		for i := range first.Entry {
			a, b := first.Entry[i].Response, second.Entry[i].Response
			if a.Status != "201 Created" || b.Status != "200 OK" || a.Location != b.Location {
				t.Fatalf("entry %d: first %+v, retry %+v", i, a, b)
			}
		}
	})

	// Finding 2, FHIR: the EHR's timeout is shorter than a commit, so the retry
	// arrives while the first request is still committing.
	t.Run("a Bundle retried while the first is committing is refused", func(t *testing.T) {
		bundle := transactionOf(labObservation("Patient/H-2", "MG-1", "0.8"), labObservation("Patient/H-2", "PH-1", "1.1"))
		before := recordCount(t, n, bob)
		// when both copies are posted at once
		var answers [2]searchset
		var statuses [2]int
		done := make(chan int, 2)
		for k := range 2 {
			go func() {
				statuses[k] = fhirPost(fh.URL, hTok, bundle, &answers[k])
				done <- k
			}()
		}
		<-done
		<-done
		// then both succeed, naming the same resources, filed once
		for k := range 2 {
			if statuses[k] != http.StatusOK || len(answers[k].Entry) != 2 {
				t.Fatalf("copy %d: %d %+v", k, statuses[k], answers[k])
			}
		}
		for i := range 2 {
			if answers[0].Entry[i].Response.Location != answers[1].Entry[i].Response.Location {
				t.Fatalf("entry %d: %q and %q", i, answers[0].Entry[i].Response.Location, answers[1].Entry[i].Response.Location)
			}
		}
		if got := recordCount(t, n, bob) - before; got != 2 {
			t.Fatalf("two concurrent copies filed %d records, want 2", got)
		}
	})

	// Finding 2, FHIR: the EHR creates a result with If-None-Exist on its
	// accession number, then sends it again (corrected) with the same condition.
	t.Run("a conditional create of an existing identifier files again", func(t *testing.T) {
		cond := map[string]string{"If-None-Exist": "identifier=urn:example:accession|ACC-77"}
		before := recordCount(t, n, bob)
		res := fhirDo(t, http.MethodPost, fh.URL+"/Observation", hTok, labObservation("Patient/H-2", "ACC-77", "4.4"), nil, cond)
		if res.status != http.StatusCreated {
			t.Fatalf("conditional create: %d %s", res.status, res.body)
		}

		// when the identifier comes again, with another value
		again := fhirDo(t, http.MethodPost, fh.URL+"/Observation", hTok, labObservation("Patient/H-2", "ACC-77", "4.6"), nil, cond)

		// then the existing resource is the answer and nothing is filed
		if again.status != http.StatusOK || again.location != res.location {
			t.Fatalf("second conditional create: %d at %q (first at %q) %s", again.status, again.location, res.location, again.body)
		}
		// and a create retried with its Idempotency-Key files nothing either
		key := map[string]string{"Idempotency-Key": "ehr-msg-000981"}
		first := fhirDo(t, http.MethodPost, fh.URL+"/Observation", hTok, labObservation("Patient/H-2", "ACC-78", "5.0"), nil, key)
		retry := fhirDo(t, http.MethodPost, fh.URL+"/Observation", hTok, labObservation("Patient/H-2", "ACC-78", "5.0"), nil, key)
		if first.status != http.StatusCreated || retry.status != http.StatusOK || retry.location != first.location {
			t.Fatalf("a retried keyed create: %d at %q, then %d at %q", first.status, first.location, retry.status, retry.location)
		}
		// while two identical readings posted without a key are two records (no data lost)
		a := fhirDo(t, http.MethodPost, fh.URL+"/Observation", hTok, labObservation("Patient/H-2", "ACC-79", "5.1"), nil)
		b := fhirDo(t, http.MethodPost, fh.URL+"/Observation", hTok, labObservation("Patient/H-2", "ACC-79", "5.1"), nil)
		if a.status != http.StatusCreated || b.status != http.StatusCreated || a.location == b.location {
			t.Fatalf("two identical creates without a key: %d at %q, %d at %q", a.status, a.location, b.status, b.location)
		}
		if got := recordCount(t, n, bob) - before; got != 4 {
			t.Fatalf("%d records filed, want 4 (the conditional one, the keyed one, two without a key)", got)
		}
		// and a token that may create but not read cannot probe identifiers
		createOnly := benchTokenScope(t, fh.URL, key0, "system/Observation.c")
		probe := fhirDo(t, http.MethodPost, fh.URL+"/Observation", createOnly, labObservation("Patient/H-2", "ACC-77", "4.4"), nil, cond)
		if probe.status != http.StatusForbidden || strings.Contains(probe.body, "4.4") {
			t.Fatalf("a create-only token's conditional create: %d %s", probe.status, probe.body)
		}
	})

	// Finding 2, CLI: a hospital's import of a patient's history is killed
	// midway (kill -9) after some batches committed, and run again.
	t.Run("an interrupted import run again files its records twice", func(t *testing.T) {
		const size = 2500
		raw, err := fhir.SyntheticBundle(size, 30)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "history.json")
		if err := os.WriteFile(file, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		parsed, err := fhir.ParseBundle(raw)
		if err != nil {
			t.Fatal(err)
		}
		before := recordCount(t, n, bob)
		args := append([]string{"fhir", "import", file, "--patient", bob, "--vault", v.URL, "--from", "hospital"}, kr...)

		// given an import killed as soon as its first batch is on chain
		cmd := exec.Command(n.Binary, append(args, "--home", n.Home)...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for recordCount(t, n, bob) == before && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		partial := recordCount(t, n, bob) - before
		if partial == 0 || partial >= parsed.Len() {
			t.Fatalf("the killed import committed %d of %d records: not an interruption", partial, parsed.Len())
		}

		// when the same import runs again
		var rerun struct {
			Committed []struct {
				RecordID     uint64 `json:"record_id"`
				AlreadyFiled bool   `json:"already_filed"`
			} `json:"committed"`
		}
		n.CLIJSON(&rerun, args...)

		// then the patient has each resource once
		if got := recordCount(t, n, bob) - before; got != parsed.Len() {
			t.Fatalf("after the re-run the patient has %d new records for a Bundle of %d (%d committed before the kill)", got, parsed.Len(), partial)
		}
		filed := 0
		for _, c := range rerun.Committed {
			if c.AlreadyFiled {
				filed++
			}
		}
		if len(rerun.Committed) != parsed.Len() || filed < partial {
			t.Fatalf("the re-run reports %d resources, %d of them filed before (at least %d were)", len(rerun.Committed), filed, partial)
		}
		t.Logf("killed after %d of %d records; the re-run filed %d and found %d", partial, parsed.Len(), parsed.Len()-filed, filed)
	})

	// Filing is idempotent because a resource's ciphertext, hence its hash,
	// is derived from the filer's secret and the resource: so a provider with
	// a write consent that copies a filing's hash from the mempool and commits
	// it first for the same patient would block that resource for good.
	t.Run("a front-run hash blocks a resource from being filed", func(t *testing.T) {
		a := &attacker{t: t, n: n, v: v, kr: nodeKeyring(t, n.Home), dir: t.TempDir()}
		resource := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"Troponin I"},"valueString":"FRX-3303"}`)
		bundle := []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + string(resource) + `}]}`)
		// given the hash the hospital's filing of the resource for bob makes
		// (the attacker saw it in the mempool; the test derives it)
		priv, err := crypto.EncryptionKeyFromKeyring(a.kr, "hospital", hospital)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := crypto.FilingSecret(priv)
		if err != nil {
			t.Fatal(err)
		}
		src := crypto.Source{Header: crypto.Header{DataClass: "lab-result", Patient: bob, FHIRResourceType: "Observation"}, Plaintext: sha256.Sum256(resource)}
		dk, salt, err := crypto.SourceKeys(secret, src)
		if err != nil {
			t.Fatal(err)
		}
		var ct bytes.Buffer
		w, err := crypto.NewRecordWriterWithSalt(&ct, dk, salt, src.Header)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(resource)
		_ = w.Close()
		h := sha256.Sum256(ct.Bytes())
		// and the lab, which bob lets write his lab results, commits it first
		n.CLI(append([]string{
			"consent", "grant", lab, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "write",
			"--expires", "720h", "--from", "bob", "--yes",
		}, kr...)...)
		a.cli("tx", "records", "create", "TREAT", a.entry("lab-result", base64.StdEncoding.EncodeToString(h[:]), strconv.Itoa(ct.Len()),
			a.epoch(bob, "lab-result")), "--patient", bob, "--from", "lab", "--yes")
		before := recordCount(t, n, bob)

		// when the hospital files the resource
		file := filepath.Join(t.TempDir(), "one.json")
		if err := os.WriteFile(file, bundle, 0o600); err != nil {
			t.Fatal(err)
		}
		res := n.Exec(append([]string{"fhir", "import", file, "--patient", bob, "--vault", v.URL, "--from", "hospital", "--output", "json"}, kr...)...)

		// then it is filed all the same, under a fresh key, by the hospital
		if res.ExitCode != 0 || recordCount(t, n, bob) != before+1 {
			t.Fatalf("the hospital's filing after the front-run: exit %d, %d new records\n%s%s", res.ExitCode, recordCount(t, n, bob)-before, res.Stdout, res.Stderr)
		}
		if r := newestRecordOf(t, n, bob); r.Author != hospital || r.ContentHash == base64.StdEncoding.EncodeToString(h[:]) {
			t.Fatalf("newest record %+v", r)
		}
	})

	// Finding 4: the vault is down; the EHR's OperationOutcome must not hand
	// the vendor the vault's address, the node's or a gRPC text.
	t.Run("an OperationOutcome names the server's internals", func(t *testing.T) {
		ports, err := localnet.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		deadVault := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		fd := network.StartFHIRServer(t, n, "hospital", deadVault, clients, hospitalMRNs)
		res := fhirDo(t, http.MethodPost, fd.URL+"/Observation", benchToken(t, fd.URL, key), labObservation("Patient/H-1", "X-1", "1"), nil)
		if res.status != http.StatusServiceUnavailable {
			t.Fatalf("with the vault down: %d %s", res.status, res.body)
		}
		for _, internal := range []string{"127.0.0.1", strconv.Itoa(ports[0]), "rpc error", "dial tcp"} {
			if strings.Contains(res.body, internal) {
				t.Fatalf("the OperationOutcome holds %q: %s", internal, res.body)
			}
		}
		id := res.header.Get("X-Request-Id")
		if id == "" || !strings.Contains(res.body, id) || !fd.LogContains(`"request_id":"`+id+`"`, `"error":`) {
			t.Fatalf("request id %q is not in the answer and the log line: %s", id, res.body)
		}
	})
}

// labObservation is a laboratory Observation about subject, with an
// accession identifier and a potassium value.
func labObservation(subject, accession, value string) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"Observation","status":"final",`+
		`"identifier":[{"system":"urn:example:accession","value":%q}],`+
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]},`+
		`"subject":{"reference":%q},"effectiveDateTime":"2026-12-07T08:00:00Z",`+
		`"valueQuantity":{"value":%s,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`, accession, subject, value))
}

// transactionOf is a transaction Bundle POSTing each resource.
func transactionOf(resources ...[]byte) []byte {
	var entries []string
	for _, r := range resources {
		entries = append(entries, fmt.Sprintf(`{"resource":%s,"request":{"method":"POST","url":"Observation"}}`, r))
	}
	return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`)
}

// searchset is a Bundle as the server answers.
type searchset struct {
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Response struct {
			Status   string `json:"status"`
			Location string `json:"location"`
		} `json:"response"`
	} `json:"entry"`
}

func (b searchset) has(id string) bool {
	for _, e := range b.Entry {
		if strings.HasSuffix(e.FullURL, "/Observation/"+id) {
			return true
		}
	}
	return false
}

func (b searchset) resource(t *testing.T, id string) json.RawMessage {
	t.Helper()
	for _, e := range b.Entry {
		if strings.HasSuffix(e.FullURL, "/Observation/"+id) {
			return e.Resource
		}
	}
	t.Fatalf("Observation/%s is not in the searchset", id)
	return nil
}

// subjectOf is a resource's subject.reference.
func subjectOf(t *testing.T, raw []byte) string {
	t.Helper()
	var r struct {
		Subject struct {
			Reference string `json:"reference"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return r.Subject.Reference
}

// resourceID is the id in a Location (BASE/Type/id/_history/n).
func resourceID(t *testing.T, location string) string {
	t.Helper()
	parts := strings.Split(location, "/")
	for i, p := range parts {
		if p == "_history" && i >= 1 {
			return parts[i-1]
		}
	}
	t.Fatalf("location %q", location)
	return ""
}

// fhirAnswer is a FHIR call's answer.
type fhirAnswer struct {
	status   int
	location string
	header   http.Header
	body     string
}

// fhirDo makes one FHIR call, decoding a 2xx body into out if set; extra
// headers go with it.
func fhirDo(t *testing.T, method, u, token string, body []byte, out any, headers ...map[string]string) fhirAnswer {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	for _, h := range headers {
		for k, v := range h {
			req.Header.Set(k, v)
		}
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, u, err, raw)
		}
	}
	return fhirAnswer{status: resp.StatusCode, location: resp.Header.Get("Location"), header: resp.Header, body: string(raw)}
}

// fhirPost posts body to the server's base and decodes a 200 answer into
// out; it returns the status (safe to call from several goroutines).
func fhirPost(u, token string, body []byte, out any) int {
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// recordCount is how many records the chain holds for patient.
func recordCount(t *testing.T, n *network.Node, patient string) int {
	t.Helper()
	var resp struct {
		Pagination struct {
			Total string `json:"total"`
		} `json:"pagination"`
	}
	if err := n.GetJSON("/healthd/records/v1/patients/"+patient+"/records?pagination.limit=1&pagination.count_total=true", &resp); err != nil {
		t.Fatal(err)
	}
	c, err := strconv.Atoi(resp.Pagination.Total)
	if err != nil {
		t.Fatalf("total %q: %v", resp.Pagination.Total, err)
	}
	return c
}
