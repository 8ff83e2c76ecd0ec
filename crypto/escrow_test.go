package crypto

import (
	"bytes"
	"testing"
)

// An escrow round trip: the patient splits six class keys 2-of-3, seals each
// custodian's shares to it; a custodian re-seals its shares to a provider for
// one emergency access; the provider combines two custodians' shares, each
// matching its commitment, into the class keys. Wrong contexts do not open,
// and a swapped or corrupted share fails its commitment.
func TestEscrowRoundTrip(t *testing.T) {
	key := func(seed byte) ([]byte, func([]byte, []byte) ([]ClassShare, error)) {
		priv, err := DeriveEncryptionKey(bytes.Repeat([]byte{seed}, 64))
		if err != nil {
			t.Fatal(err)
		}
		return priv.PublicKey().Bytes(), func(sealed, ctx []byte) ([]ClassShare, error) { return OpenShares(priv, sealed, ctx) }
	}
	patient := "health1patient"
	custodians := []string{"health1c1", "health1c2", "health1c3"}
	pubs := make([][]byte, 3)
	opens := make([]func([]byte, []byte) ([]ClassShare, error), 3)
	for i := range custodians {
		pubs[i], opens[i] = key(byte(10 + i))
	}
	providerPub, providerOpen := key(99)

	classes := []string{"allergy", "prescription", "diagnosis", "immunization", "vital-signs", "lab-result"}
	keys := map[string][]byte{}
	perCustodian := make([][]ClassShare, 3)
	commit := map[string][]byte{} // class|custodian → commitment
	for _, class := range classes {
		k, _ := NewDataKey()
		keys[class] = k
		shares, err := SplitSecret(k, 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range shares {
			cs := ClassShare{DataClass: class, Epoch: 3, Share: s}
			perCustodian[i] = append(perCustodian[i], cs)
			commit[class+"|"+custodians[i]] = ShareCommitment(patient, custodians[i], cs)
		}
	}
	escrow := make([][]byte, 3)
	for i := range custodians {
		sealed, err := SealShares(pubs[i], perCustodian[i], EscrowContext(patient, custodians[i], 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) > 2048 {
			t.Fatalf("one custodian's escrow of 6 classes is %d bytes", len(sealed))
		}
		escrow[i] = sealed
	}
	// the custodian's ciphertext does not open as another's, or for another set
	if _, err := opens[0](escrow[1], EscrowContext(patient, custodians[1], 1)); err == nil {
		t.Fatal("custodian 1 opened custodian 2's shares")
	}
	if _, err := opens[0](escrow[0], EscrowContext(patient, custodians[0], 2)); err == nil {
		t.Fatal("an escrow opened for another custodian set version")
	}

	// custodians 1 and 3 release to the provider for access 7
	released := map[string][]Share{}
	for _, i := range []int{0, 2} {
		mine, err := opens[i](escrow[i], EscrowContext(patient, custodians[i], 1))
		if err != nil {
			t.Fatal(err)
		}
		rel, err := SealShares(providerPub, mine, ReleaseContext(7, patient, custodians[i], "health1clinic", 42))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := providerOpen(rel, ReleaseContext(8, patient, custodians[i], "health1clinic", 42)); err == nil {
			t.Fatal("a release opened for another emergency access")
		}
		if _, err := providerOpen(rel, ReleaseContext(7, patient, custodians[i], "health1clinic", 43)); err == nil {
			t.Fatal("a release opened for another escrow")
		}
		got, err := providerOpen(rel, ReleaseContext(7, patient, custodians[i], "health1clinic", 42))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if !bytes.Equal(ShareCommitment(patient, custodians[i], s), commit[s.DataClass+"|"+custodians[i]]) {
				t.Fatalf("a good share of %s fails its commitment", s.DataClass)
			}
			released[s.DataClass] = append(released[s.DataClass], s.Share)
		}
	}
	for _, class := range classes {
		k, err := CombineShares(released[class])
		if err != nil || !bytes.Equal(k, keys[class]) {
			t.Fatalf("%s: combined key wrong (%v)", class, err)
		}
	}

	// a corrupted share, or one of another class, fails its commitment
	bad := perCustodian[0][0]
	bad.Share.Y = append([]byte(nil), bad.Share.Y...)
	bad.Share.Y[0] ^= 1
	if bytes.Equal(ShareCommitment(patient, custodians[0], bad), commit[bad.DataClass+"|"+custodians[0]]) {
		t.Fatal("a corrupted share matches its commitment")
	}
	swapped := perCustodian[0][1]
	swapped.DataClass = perCustodian[0][0].DataClass
	if bytes.Equal(ShareCommitment(patient, custodians[0], swapped), commit[swapped.DataClass+"|"+custodians[0]]) {
		t.Fatal("a share of another class matches the commitment")
	}
	if _, err := decodeShares([]byte{2, 3, 'a'}); err == nil {
		t.Fatal("malformed shares decoded")
	}
}
