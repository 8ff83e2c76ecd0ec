package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/testutil/network"
)

// testBreakGlassCustodians (in TestConsortium, on its 4 validators): alice
// escrows her emergency class keys with the 3 custodians (2 of 3); the
// hospital files four records for her, three in emergency classes and one in
// mental-health; custodian daemons run beside nodes 1, 2 and 3, and the third
// is killed; the clinic, which holds no key grant of alice's, breaks the
// glass for her; the two live custodians release their shares on chain; the
// clinic decrypts the three emergency records byte-equal, and not the
// mental-health one; alice's key-release log lists both releases.
func testBreakGlassCustodians(t *testing.T, net *network.Network) {
	n0 := net.Nodes[0]
	v := network.StartVault(t, n0)
	alice, hospital, clinic := n0.Address("alice"), n0.Address("hospital"), n0.Address("clinic")
	kr := []string{"--keyring-backend", "test"}

	var escrow struct {
		SetVersion uint64 `json:"set_version"`
		Threshold  uint32 `json:"threshold"`
		Custodians int    `json:"custodians"`
		Classes    []struct {
			DataClass string `json:"data_class"`
		} `json:"classes"`
	}
	n0.CLIJSON(&escrow, append([]string{"consent", "escrow", "--from", "alice"}, kr...)...)
	if escrow.Custodians != 3 || escrow.Threshold != 2 || len(escrow.Classes) != 6 {
		t.Fatalf("escrow: %+v", escrow)
	}

	n0.CLI(append([]string{
		"consent", "grant", hospital, "--classes", "lab-result,allergy,prescription,mental-health",
		"--permissions", "read,write", "--expires", "24h", "--from", "alice",
	}, kr...)...)
	docs := map[string]string{
		"lab-result":    `{"resourceType":"Observation","status":"final","code":{"text":"Potassium QX-4471"},"valueQuantity":{"value":6.1}}`,
		"allergy":       `{"resourceType":"AllergyIntolerance","code":{"text":"Penicillin QX-4472"}}`,
		"prescription":  `{"resourceType":"MedicationRequest","status":"active","medicationCodeableConcept":{"text":"Warfarin QX-4473"}}`,
		"mental-health": `{"resourceType":"Condition","code":{"text":"Therapy note QX-4474"}}`,
	}
	types := map[string]string{"lab-result": "Observation", "allergy": "AllergyIntolerance", "prescription": "MedicationRequest", "mental-health": "Condition"}
	ids := map[string]string{}
	dir := t.TempDir()
	for class, doc := range docs {
		file := filepath.Join(dir, class+".json")
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		var put struct {
			RecordID json.Number `json:"record_id"`
		}
		n0.CLIJSON(&put, append([]string{
			"records", "put", file, "--patient", alice, "--class", class, "--fhir-type", types[class],
			"--vault", v.URL, "--from", "hospital",
		}, kr...)...)
		ids[class] = put.RecordID.String()
	}

	// the custodians, each beside its own node; the third one is down
	network.StartCustodian(t, n0, net.Nodes[1], "custodian1")
	network.StartCustodian(t, n0, net.Nodes[2], "custodian2")
	c3 := network.StartCustodian(t, n0, net.Nodes[3], "custodian3")
	c3.Kill()

	// before any emergency, the clinic can read nothing of alice's
	read := func(class string) network.Result {
		return n0.Exec(append([]string{
			"records", "get", ids[class], "--purpose", "ETREAT", "--vault", v.URL,
			"--out", filepath.Join(dir, "clinic-"+class), "--from", "clinic",
		}, kr...)...)
	}
	if res := read("lab-result"); res.ExitCode == 0 {
		t.Fatal("the clinic read a record without an emergency access")
	}

	n0.CLI("tx", "consent", "break-glass", alice, "unconscious-patient", "ED admission", "--duration", "1h", "--from", "clinic", "--yes")
	type releases struct {
		Releases []struct {
			AccessID  string `json:"access_id"`
			Custodian string `json:"custodian"`
			Provider  string `json:"provider"`
		} `json:"releases"`
	}
	var rel releases
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(time.Second) {
		n0.CLIJSON(&rel, "query", "consent", "key-releases", alice)
		if len(rel.Releases) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(rel.Releases) != 2 {
		t.Fatalf("%d custodians released within 45 s, want 2: %+v", len(rel.Releases), rel)
	}
	released := map[string]bool{}
	for _, r := range rel.Releases {
		if r.Provider != clinic {
			t.Fatalf("a release to %s, not the clinic", r.Provider)
		}
		released[r.Custodian] = true
	}
	if !released[n0.Address("custodian1")] || !released[n0.Address("custodian2")] {
		t.Fatalf("released by %v, want custodian1 and custodian2", released)
	}

	// the clinic decrypts the emergency classes byte for byte
	for _, class := range []string{"lab-result", "allergy", "prescription"} {
		if res := read(class); res.ExitCode != 0 {
			t.Fatalf("the clinic reading %s under break-glass: exit %d\n%s", class, res.ExitCode, res.Stderr)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "clinic-"+class))
		if string(got) != docs[class] {
			t.Fatalf("the clinic's %s: %q", class, got)
		}
	}
	// but not mental-health, which alice did not escrow
	if res := read("mental-health"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "not among the escrowed classes") {
		t.Fatalf("the clinic reading mental-health: exit %d\n%s", res.ExitCode, res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "clinic-mental-health")); err == nil {
		if b, _ := os.ReadFile(filepath.Join(dir, "clinic-mental-health")); strings.Contains(string(b), "QX-4474") {
			t.Fatal("the mental-health plaintext reached the clinic")
		}
	}
}
