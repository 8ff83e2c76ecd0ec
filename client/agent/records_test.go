package agent

import (
	"bytes"
	"testing"

	"github.com/healthd-chain/healthd/crypto"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// TestUsableGrant: a grantee takes a class key only from an active consent
// that the patient herself signed, at an epoch not past the patient's current
// one, whatever else the chain holds.
func TestUsableGrant(t *testing.T) {
	const patient, delegate = "health1patient", "health1delegate"
	grant := func(class string, epoch uint64) []byte {
		g, err := crypto.EncodeGrant(class, epoch, bytes.Repeat([]byte{1}, crypto.GrantSealedSize))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	consent := func(mod func(c *consenttypes.Consent)) consenttypes.Consent {
		c := consenttypes.Consent{
			Patient: patient, GrantedBy: patient, Status: consenttypes.CONSENT_STATUS_ACTIVE,
			KeyGrants: [][]byte{grant("lab-result", 1), grant("lab-result", 2), grant("diagnosis", 3)},
		}
		mod(&c)
		return c
	}
	cases := []struct {
		name    string
		c       consenttypes.Consent
		current uint64
		want    uint64
	}{
		{"the newest grant of the class", consent(func(*consenttypes.Consent) {}), 2, 2},
		{"not past the current epoch", consent(func(*consenttypes.Consent) {}), 1, 1},
		{"a grant for a later epoch than the chain's is ignored", consent(func(c *consenttypes.Consent) {
			c.KeyGrants = [][]byte{grant("lab-result", crypto.MaxKeyEpoch)}
		}), 1, 0},
		{"granted by a delegate", consent(func(c *consenttypes.Consent) { c.GrantedBy = delegate }), 2, 0},
		{"another patient's consent", consent(func(c *consenttypes.Consent) { c.Patient = "health1other" }), 2, 0},
		{"revoked", consent(func(c *consenttypes.Consent) { c.Status = consenttypes.CONSENT_STATUS_REVOKED }), 2, 0},
		{"expired", consent(func(c *consenttypes.Consent) { c.Status = consenttypes.CONSENT_STATUS_EXPIRED }), 2, 0},
		{"junk bytes", consent(func(c *consenttypes.Consent) { c.KeyGrants = [][]byte{[]byte("HDKG1 junk")} }), 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, g := usableGrant(tc.c, patient, "lab-result", tc.current)
			if got != tc.want || (got == 0) != (g == nil) {
				t.Fatalf("usableGrant = epoch %d (grant %v), want %d", got, g != nil, tc.want)
			}
		})
	}
}
