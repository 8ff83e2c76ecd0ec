package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

func TestDateFilter(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	cases := []struct {
		value, when string
		want        bool
	}{
		{"2026", "2026-06-01T00:00:00Z", true},
		{"2026", "2027-01-01T00:00:00Z", false},
		{"eq2026-12", "2026-12-31T23:59:59Z", true},
		{"ne2026-12", "2026-12-02T00:00:00Z", false},
		{"gt2026-12-01", "2026-12-01T12:00:00Z", false},
		{"gt2026-12-01", "2026-12-02T00:00:00Z", true},
		{"ge2026-12-01", "2026-12-01T00:00:00Z", true},
		{"lt2026-12-01", "2026-11-30T23:59:59Z", true},
		{"lt2026-12-01", "2026-12-01T00:00:00Z", false},
		{"le2026-12-01", "2026-12-01T23:00:00Z", true},
		{"ge2026-12-01T10:00:00Z", "2026-12-01T09:59:59Z", false},
	}
	for _, c := range cases {
		f, err := dateFilter(c.value)
		require.NoError(t, err, c.value)
		require.Equal(t, c.want, f(at(c.when)), "%s at %s", c.value, c.when)
	}
	for _, bad := range []string{"yesterday", "xx2026", "2026-13", ""} {
		_, err := dateFilter(bad)
		require.Error(t, err, bad)
	}
}

// A resource is served with the server's id and version, everything else as
// stored, byte for byte in its values; what a client sends as id and
// meta.versionId is not stored.
func TestPresentAndStrip(t *testing.T) {
	stored := withoutServerElements([]byte(`{"resourceType":"Observation","id":"client-id","meta":{"versionId":"9","profile":["http://x"]},` +
		`"status":"final","code":{"text":"x"},"valueQuantity":{"value":7.90}}`))
	require.JSONEq(t, `{"resourceType":"Observation","meta":{"profile":["http://x"]},"status":"final","code":{"text":"x"},"valueQuantity":{"value":7.90}}`, string(stored))
	require.Contains(t, string(stored), "7.90", "numbers are kept as written")
	created := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	out, err := present(stored, version{rec: recordstypes.Record{Id: 12, FhirResourceType: "Observation", CreatedAt: created}, origin: 7, n: 3})
	require.NoError(t, err)
	require.Equal(t, `{"resourceType":"Observation",`, string(out[:len(`{"resourceType":"Observation",`)]), "resourceType first")
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	require.Equal(t, "7", m["id"])
	meta := m["meta"].(map[string]any)
	require.Equal(t, "3", meta["versionId"])
	require.Equal(t, "2026-12-02T10:00:00Z", meta["lastUpdated"])
	require.Equal(t, []any{"http://x"}, meta["profile"])
	// content that is not a JSON resource of the record's type is not served
	for _, bad := range []string{"not json", "null", `{"status":"final"}`, `{"resourceType":"Condition"}`, `[1]`} {
		_, err = present([]byte(bad), version{rec: recordstypes.Record{Id: 12, FhirResourceType: "Observation"}})
		var ns *notServable
		require.ErrorAs(t, err, &ns, bad)
	}
}

// The chain's consents become R4 Consents, with an emergency access marked
// break-glass; receipts become BALP AuditEvents, emergency reads marked.
func TestConsentAndAuditMapping(t *testing.T) {
	h := newHarness(t)
	s := h.srv
	s.names.Store("health1hospital", "General Hospital")
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	c := consenttypes.Consent{
		Id: 4, Patient: addr1, Grantee: "health1hospital", Permissions: []string{"read", "write"},
		DataClasses: []string{"lab-result"}, Purposes: []string{"TREAT"},
		Period: consenttypes.Period{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}, Status: consenttypes.CONSENT_STATUS_ACTIVE,
		CreatedAt: now.Add(-time.Hour),
	}
	res := s.consentResource(t.Context(), c, now)
	require.Equal(t, "active", res["status"])
	require.Equal(t, map[string]any{"reference": "Patient/" + mrn}, res["patient"])
	actor := res["provision"].(map[string]any)["actor"].([]any)[0].(map[string]any)["reference"].(map[string]any)
	require.Equal(t, "General Hospital", actor["display"])
	for _, st := range []struct {
		mutate func(*consenttypes.Consent)
		want   string
	}{
		{func(c *consenttypes.Consent) { c.Status = consenttypes.CONSENT_STATUS_REVOKED }, "inactive"},
		{func(c *consenttypes.Consent) { c.Period.End = now }, "inactive"},
		{func(c *consenttypes.Consent) { c.Period.Start = now.Add(time.Minute) }, "proposed"},
	} {
		cc := c
		st.mutate(&cc)
		require.Equal(t, st.want, s.consentResource(t.Context(), cc, now)["status"])
	}
	c.Emergency = true
	em := s.consentResource(t.Context(), c, now)
	require.Contains(t, mustJSON(t, em), `"code":"BTG"`)
	require.Contains(t, mustJSON(t, em), `"code":"ETREAT"`)

	rc := recordstypes.AccessReceipt{Id: 9, RecordId: 3, Patient: addr1, Accessor: "health1hospital", Purpose: "TREAT", Time: now, Height: 40}
	ev := mustJSON(t, s.receiptEvent(t.Context(), rc, mrn, "Observation"))
	require.Contains(t, ev, `"subtype":[{"code":"read","system":"http://hl7.org/fhir/restful-interaction"}]`)
	require.Contains(t, ev, `"Observation/3"`)
	require.NotContains(t, ev, "BTG")
	rc.Emergency = true
	ev = mustJSON(t, s.receiptEvent(t.Context(), rc, mrn, "Observation"))
	require.Contains(t, ev, `"code":"BTG"`)
	require.Contains(t, ev, `"code":"ETREAT"`)
	require.NotContains(t, ev, addr1, "the patient is named by MRN only")
}

func mustJSON(t *testing.T, v any) string {
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// The table is read again when its file changes (another process ran
// `healthd fhir patients set`), and rejects MRNs that cannot be FHIR ids.
func TestPatientsTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir", "patients.json")
	p, err := OpenPatients(path)
	require.NoError(t, err)
	_, ok, err := p.Address("A-1")
	require.NoError(t, err)
	require.False(t, ok)
	other, err := OpenPatients(path)
	require.NoError(t, err)
	require.NoError(t, other.Set("A-1", "health1a"))
	got, ok, err := p.Address("A-1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "health1a", got)
	require.NoError(t, other.Set("A-2", "health1a")) // remapping an address drops its old MRN
	_, ok, _ = p.Address("A-1")
	require.False(t, ok)
	m, ok := p.MRN("health1a")
	require.True(t, ok)
	require.Equal(t, "A-2", m)
	require.Error(t, p.Set("bad/mrn", "health1b"))
	require.Error(t, p.Remove("nobody"))
	require.NoError(t, p.Remove("A-2"))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}
