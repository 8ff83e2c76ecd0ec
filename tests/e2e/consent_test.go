package e2e

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/testutil/network"
)

type accessDecision struct {
	Allowed   bool   `json:"allowed"`
	ConsentID string `json:"consent_id"`
	Reason    string `json:"reason"`
	Emergency bool   `json:"emergency"`
}

func checkAccess(t *testing.T, n *network.Node, patient, grantee, class, perm, purpose string) accessDecision {
	t.Helper()
	q := url.Values{"patient": {patient}, "grantee": {grantee}, "data_class": {class}, "permission": {perm}, "purpose": {purpose}}
	var d accessDecision
	if err := n.GetJSON("/healthd/consent/v1/check_access?"+q.Encode(), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

type consentView struct {
	ID        string `json:"id"`
	Grantee   string `json:"grantee"`
	Status    string `json:"status"`
	Emergency bool   `json:"emergency"`
	Review    string `json:"review"`
	Period    struct {
		End time.Time `json:"end"`
	} `json:"period"`
}

// newestConsent returns the patient's consent with the highest id.
func newestConsent(t *testing.T, n *network.Node, path string) consentView {
	t.Helper()
	var list struct {
		Consents []consentView `json:"consents"`
	}
	if err := n.GetJSON(path, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Consents) == 0 {
		t.Fatalf("%s: no consents", path)
	}
	best := list.Consents[0]
	for _, c := range list.Consents {
		a, _ := strconv.Atoi(c.ID)
		b, _ := strconv.Atoi(best.ID)
		if a > b {
			best = c
		}
	}
	return best
}

func TestConsentFlow(t *testing.T) {
	// given a node whose genesis has alice registered and hospital, clinic active
	n := network.StartNode(t)
	alice, hospital, clinic := n.Address("alice"), n.Address("hospital"), n.Address("clinic")

	t.Run("the CLI derives the encryption key registered for alice", func(t *testing.T) {
		var profile struct {
			Patient struct {
				EncryptionKey string `json:"encryption_key"`
			} `json:"patient"`
		}
		if err := n.GetJSON("/healthd/consent/v1/patients/"+alice, &profile); err != nil {
			t.Fatal(err)
		}
		derived := strings.TrimSpace(n.CLI("keys", "encryption-key", "alice", "--keyring-backend", "test"))
		if derived == "" || derived != profile.Patient.EncryptionKey {
			t.Fatalf("keys encryption-key alice = %.20s…, on-chain profile key = %.20s…", derived, profile.Patient.EncryptionKey)
		}
	})

	t.Run("grant, check, wrong purpose, revoke", func(t *testing.T) {
		// when alice grants hospital read on lab-result for TREAT
		n.CLI("tx", "consent", "grant", hospital, "--classes", "lab-result", "--purposes", "TREAT",
			"--permissions", "read", "--expires", "720h", "--from", "alice", "--yes")
		c := newestConsent(t, n, "/healthd/consent/v1/patients/"+alice+"/consents")
		if c.Grantee != hospital || c.Status != "CONSENT_STATUS_ACTIVE" {
			t.Fatalf("granted consent = %+v", c)
		}

		// then check_access allows it over REST, and names the consent
		if d := checkAccess(t, n, alice, hospital, "lab-result", "read", "TREAT"); !d.Allowed || d.ConsentID != c.ID || d.Reason != "ACCESS_REASON_CONSENT" {
			t.Fatalf("check_access = %+v, want allowed by consent %s", d, c.ID)
		}
		// and a wrong purpose, class or permission is denied
		for _, r := range [][3]string{{"lab-result", "read", "HRESCH"}, {"diagnosis", "read", "TREAT"}, {"lab-result", "write", "TREAT"}} {
			if d := checkAccess(t, n, alice, hospital, r[0], r[1], r[2]); d.Allowed || d.Reason != "ACCESS_REASON_NOT_COVERED" {
				t.Errorf("check_access %v = %+v, want denied as not covered", r, d)
			}
		}

		// when alice revokes it
		n.CLI("tx", "consent", "revoke", c.ID, "--from", "alice", "--yes")
		// then the same request is denied
		if d := checkAccess(t, n, alice, hospital, "lab-result", "read", "TREAT"); d.Allowed || d.Reason != "ACCESS_REASON_REVOKED" {
			t.Fatalf("after revoke: %+v", d)
		}
	})

	t.Run("a short grant turns denied at its end with no transaction", func(t *testing.T) {
		// given a grant lasting seconds
		n.CLI("tx", "consent", "grant", hospital, "--classes", "vital-signs", "--purposes", "TREAT",
			"--permissions", "read", "--expires", "8s", "--from", "alice", "--yes")
		c := newestConsent(t, n, "/healthd/consent/v1/patients/"+alice+"/consents")
		if d := checkAccess(t, n, alice, hospital, "vital-signs", "read", "TREAT"); !d.Allowed {
			t.Fatalf("right after the grant: %+v", d)
		}
		// when blocks pass its end
		deadline := time.Now().Add(45 * time.Second)
		var d accessDecision
		for time.Now().Before(deadline) {
			if d = checkAccess(t, n, alice, hospital, "vital-signs", "read", "TREAT"); !d.Allowed {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		// then it is denied as expired, at a block time at or after the end
		if d.Allowed || d.Reason != "ACCESS_REASON_EXPIRED" {
			t.Fatalf("after the end: %+v", d)
		}
		if bt := latestBlockTime(t, n); bt.Before(c.Period.End) {
			t.Fatalf("denied at block time %s, before the end %s", bt, c.Period.End)
		}
	})

	t.Run("break-glass, review abusive, provider suspended, denied", func(t *testing.T) {
		// when clinic breaks the glass on alice's records
		n.CLI("tx", "consent", "break-glass", alice, "unconscious-patient", "ED admission, unresponsive",
			"--duration", "1h", "--from", "clinic", "--yes")

		// then clinic may read for ETREAT only
		if d := checkAccess(t, n, alice, clinic, "lab-result", "read", "ETREAT"); !d.Allowed || !d.Emergency {
			t.Fatalf("ETREAT: %+v", d)
		}
		if d := checkAccess(t, n, alice, clinic, "lab-result", "read", "TREAT"); d.Allowed {
			t.Fatalf("TREAT under break-glass: %+v", d)
		}
		// and the access is listed for alice, pending review
		e := newestConsent(t, n, "/healthd/consent/v1/patients/"+alice+"/emergency_accesses")
		if e.Grantee != clinic || !e.Emergency || e.Review != "REVIEW_STATE_PENDING" {
			t.Fatalf("emergency access = %+v", e)
		}

		// when the registrar reviews it as abusive
		n.CLI("tx", "consent", "review-emergency", e.ID, "abusive", "--from", "registrar", "--yes")

		// then clinic is suspended, the access revoked, and clinic is denied
		if v := getProvider(t, n, clinic); v.Provider.Status != "PROVIDER_STATUS_SUSPENDED" ||
			v.Provider.StatusReason != "STATUS_REASON_EMERGENCY_ACCESS_ABUSE" || v.IsActive {
			t.Fatalf("clinic after review = %+v", v)
		}
		var got struct {
			Consent consentView `json:"consent"`
		}
		if err := n.GetJSON(fmt.Sprintf("/healthd/consent/v1/consents/%s", e.ID), &got); err != nil {
			t.Fatal(err)
		}
		if got.Consent.Status != "CONSENT_STATUS_REVOKED" || got.Consent.Review != "REVIEW_STATE_ABUSIVE" {
			t.Fatalf("emergency consent after review = %+v", got.Consent)
		}
		if d := checkAccess(t, n, alice, clinic, "lab-result", "read", "ETREAT"); d.Allowed || d.Reason != "ACCESS_REASON_PROVIDER_INACTIVE" {
			t.Fatalf("clinic after suspension: %+v", d)
		}
	})

	t.Run("refusals are clear", func(t *testing.T) {
		cases := []struct {
			name, want string
			args       []string
		}{
			{
				"a stranger granting for alice", "neither the patient nor a live delegate",
				[]string{"tx", "consent", "grant", hospital, "--patient", alice, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read", "--expires", "1h", "--from", "bob", "--yes"},
			},
			{
				"an unknown data class", "invalid data class",
				[]string{"tx", "consent", "grant", hospital, "--classes", "x-ray", "--purposes", "TREAT", "--permissions", "read", "--expires", "1h", "--from", "alice", "--yes"},
			},
			{
				"a break-glass longer than 4h", "exceeds max_emergency_duration",
				[]string{"tx", "consent", "break-glass", alice, "life-threatening", "ED", "--duration", "5h", "--from", "hospital", "--yes"},
			},
		}
		for _, tc := range cases {
			res := n.Exec(tc.args...)
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) || !strings.Contains(res.Stderr, `codespace "consent"`) {
				t.Errorf("%s: exit %d, stderr %q; want non-zero and %q", tc.name, res.ExitCode, res.Stderr, tc.want)
			}
		}
	})
}
