package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/healthd-chain/healthd/testutil/network"
)

type recordView struct {
	ID          string `json:"id"`
	Patient     string `json:"patient"`
	Author      string `json:"author"`
	DataClass   string `json:"data_class"`
	FHIRType    string `json:"fhir_resource_type"`
	ContentHash string `json:"content_hash"`
	StorageURI  string `json:"storage_uri"`
	KeyEnvelope string `json:"key_envelope"`
	Status      string `json:"status"`
	Height      string `json:"height"`
}

type receiptView struct {
	ID        string `json:"id"`
	RecordID  string `json:"record_id"`
	Accessor  string `json:"accessor"`
	Purpose   string `json:"purpose"`
	ConsentID string `json:"consent_id"`
}

// entryJSON is one record entry as the CLI takes it: a commitment to ciphertext
// the integration encrypted and uploaded itself (here, made-up bytes).
func entryJSON(t *testing.T, seed string) string {
	t.Helper()
	h := sha256.Sum256([]byte("ciphertext " + seed))
	b, err := json.Marshal(map[string]string{
		"data_class": "lab-result", "fhir_resource_type": "Observation",
		"content_hash": base64.StdEncoding.EncodeToString(h[:]), "size": "4096",
		"storage_uri": fmt.Sprintf("vault://hospital/%x", h[:8]), "key_envelope": base64.StdEncoding.EncodeToString([]byte("wrapped key " + seed)),
		"key_epoch": "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecordsFlow(t *testing.T) {
	// given a node; alice is a registered patient, hospital and lab active providers
	n := network.StartNode(t)
	alice, hospital, lab := n.Address("alice"), n.Address("hospital"), n.Address("lab")
	listRecords := func() []recordView {
		var resp struct {
			Records []recordView `json:"records"`
		}
		if err := n.GetJSON("/healthd/records/v1/patients/"+alice+"/records", &resp); err != nil {
			t.Fatal(err)
		}
		return resp.Records
	}

	// and alice gave hospital write (and read) consent on lab-result for TREAT
	n.CLI("tx", "consent", "grant", hospital, "--classes", "lab-result", "--purposes", "TREAT",
		"--permissions", "read,write", "--expires", "720h", "--from", "alice", "--yes")

	// when hospital commits a batch of three lab results for alice
	n.CLI("tx", "records", "create", "TREAT", entryJSON(t, "1"), entryJSON(t, "2"), entryJSON(t, "3"),
		"--patient", alice, "--from", "hospital", "--gas", "auto", "--gas-adjustment", "1.3", "--yes")

	// then alice lists them over REST
	records := listRecords()
	if len(records) != 3 {
		t.Fatalf("alice has %d records, want 3: %+v", len(records), records)
	}
	for _, r := range records {
		if r.Author != hospital || r.DataClass != "lab-result" || r.Status != "RECORD_STATUS_ACTIVE" || r.StorageURI == "" {
			t.Fatalf("record = %+v", r)
		}
	}
	first := records[0].ID

	// when lab, without consent, asks to read: refused, with a clear registered error
	res := n.Exec("tx", "records", "access", first, "TREAT", "--from", "lab", "--yes")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, `codespace "records"`) || !strings.Contains(res.Stderr, "ACCESS_REASON_NO_CONSENT") {
		t.Fatalf("access without consent: exit %d, %s", res.ExitCode, res.Stderr)
	}

	// when alice grants lab read, lab's access is accepted and alice sees the receipt
	n.CLI("tx", "consent", "grant", lab, "--classes", "lab-result", "--purposes", "TREAT",
		"--permissions", "read", "--expires", "720h", "--from", "alice", "--yes")
	labConsent := newestConsent(t, n, "/healthd/consent/v1/grantees/"+lab+"/consents")
	n.CLI("tx", "records", "access", first, "TREAT", "--from", "lab", "--yes")
	var receipts struct {
		Receipts []receiptView `json:"receipts"`
	}
	if err := n.GetJSON("/healthd/records/v1/patients/"+alice+"/receipts", &receipts); err != nil {
		t.Fatal(err)
	}
	if len(receipts.Receipts) != 1 {
		t.Fatalf("alice's receipts = %+v, want one", receipts.Receipts)
	}
	if rc := receipts.Receipts[0]; rc.RecordID != first || rc.Accessor != lab || rc.Purpose != "TREAT" || rc.ConsentID != labConsent.ID {
		t.Fatalf("receipt = %+v, want record %s, accessor lab, TREAT, consent %s", rc, first, labConsent.ID)
	}

	// when alice revokes lab's consent, lab is refused again
	n.CLI("tx", "consent", "revoke", labConsent.ID, "--from", "alice", "--yes")
	res = n.Exec("tx", "records", "access", first, "TREAT", "--from", "lab", "--yes")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "ACCESS_REASON_REVOKED") {
		t.Fatalf("access after revoke: exit %d, %s", res.ExitCode, res.Stderr)
	}

	// when alice erases a record, REST shows a tombstone without URI or envelope
	n.CLI("tx", "records", "erase", first, "--from", "alice", "--yes")
	var got struct {
		Record recordView `json:"record"`
	}
	if err := n.GetJSON("/healthd/records/v1/records/"+first, &got); err != nil {
		t.Fatal(err)
	}
	if got.Record.Status != "RECORD_STATUS_ERASED" || got.Record.StorageURI != "" || got.Record.KeyEnvelope != "" || got.Record.ContentHash != records[0].ContentHash {
		t.Fatalf("tombstone = %+v", got.Record)
	}
}
