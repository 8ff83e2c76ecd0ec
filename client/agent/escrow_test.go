package agent

import (
	"bytes"
	"crypto/hpke"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/crypto"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// releasesFor splits key (class lab-result, epoch 3) 2-of-3 for patient and
// returns the three custodians' releases to provider for access 7, as the
// chain stores them (commitments copied from the escrow made at escrowedAt).
func releasesFor(t *testing.T, key []byte, provider hpke.PublicKey, escrowedAt time.Time) []consenttypes.KeyRelease {
	t.Helper()
	shares, err := crypto.SplitSecret(key, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	var out []consenttypes.KeyRelease
	for i, s := range shares {
		custodian := []string{"c1", "c2", "c3"}[i]
		cs := crypto.ClassShare{DataClass: "lab-result", Epoch: 3, Share: s}
		sealed, err := crypto.SealShares(provider.Bytes(), []crypto.ClassShare{cs}, crypto.ReleaseContext(7, "patient", custodian, "provider", escrowedAt.UnixNano()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, consenttypes.KeyRelease{
			AccessId: 7, Custodian: custodian, Patient: "patient", Provider: "provider", Threshold: 2, EscrowedAt: escrowedAt,
			Classes: []consenttypes.ClassEpoch{{DataClass: "lab-result", Epoch: 3}}, Sealed: sealed,
			Commitments: []consenttypes.ShareCommitment{{DataClass: "lab-result", Custodian: custodian, Hash: crypto.ShareCommitment("patient", custodian, cs)}},
		})
	}
	return out
}

func TestCombineReleaseShares(t *testing.T) {
	priv, err := crypto.DeriveEncryptionKey(bytes.Repeat([]byte{5}, 64))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.NewDataKey()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	rels := releasesFor(t, key, priv.PublicKey(), at)
	access := consenttypes.Consent{Id: 7, Patient: "patient", Grantee: "provider"}
	combine := func(rels []consenttypes.KeyRelease, class string, epoch uint64) ([]byte, error) {
		return combineReleaseShares(priv, "provider", access, rels, class, epoch, 2)
	}

	// two of three give the key, and an earlier epoch's by regression
	got, err := combine(rels[:2], "lab-result", 3)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("2 of 3: %v", err)
	}
	want2, _ := crypto.RegressClassKey(key, 3, 2)
	if got, err := combine(rels[1:], "lab-result", 2); err != nil || !bytes.Equal(got, want2) {
		t.Fatalf("epoch 2 from the escrowed 3: %v", err)
	}
	if _, err := combine(rels[:2], "lab-result", 4); err == nil {
		t.Fatal("a later epoch than the escrowed one")
	}

	// one release: waiting, 1 of 2
	_, err = combine(rels[:1], "lab-result", 3)
	var werr *WaitingError
	if !errors.As(err, &werr) || werr.Released != 1 || werr.Needed != 2 || !errors.Is(err, ErrWaitingForCustodians) {
		t.Fatalf("one release: %v", err)
	}

	// a corrupted share is set aside and its custodian named
	bad := append([]consenttypes.KeyRelease(nil), rels[:2]...)
	bad[1].Commitments = []consenttypes.ShareCommitment{{DataClass: "lab-result", Custodian: "c2", Hash: bytes.Repeat([]byte{1}, 32)}}
	_, err = combine(bad, "lab-result", 3)
	if !errors.As(err, &werr) || werr.Released != 1 || !slices.Contains(werr.BadShares, BadShare{Custodian: "c2", Class: "lab-result"}) ||
		werr.BadShares[0].String() != "the lab-result share of custodian c2 does not match its commitment" {
		t.Fatalf("a corrupted share: %v", err)
	}
	// with the third custodian's good share it still opens
	if got, err := combine(append(bad, rels[2]), "lab-result", 3); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("two good of three: %v", err)
	}
	// a release sealed to someone else does not open
	other, _ := crypto.DeriveEncryptionKey(bytes.Repeat([]byte{6}, 64))
	foreign := releasesFor(t, key, other.PublicKey(), at)
	if _, err := combine([]consenttypes.KeyRelease{rels[0], foreign[1]}, "lab-result", 3); !errors.As(err, &werr) ||
		!slices.Contains(werr.BadShares, BadShare{Custodian: "c2"}) {
		t.Fatalf("a foreign release: %v", err)
	}

	// shares of two escrows (the patient escrowed again in between) are not mixed
	again := releasesFor(t, key, priv.PublicKey(), at.Add(time.Hour))
	if _, err := combine([]consenttypes.KeyRelease{rels[0], again[1]}, "lab-result", 3); !errors.As(err, &werr) {
		t.Fatalf("shares of two escrows: %v, want waiting", err)
	}

	// a custodian that repeats its own (valid) share in its release does not
	// spoil the combination
	dup := rels[0]
	opened, err := crypto.OpenShares(priv, dup.Sealed, crypto.ReleaseContext(7, "patient", "c1", "provider", at.UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	dup.Sealed, err = crypto.SealShares(priv.PublicKey().Bytes(), append(opened, opened[0]), crypto.ReleaseContext(7, "patient", "c1", "provider", at.UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := combine([]consenttypes.KeyRelease{dup, rels[1]}, "lab-result", 3); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("with a repeated share: %v", err)
	}

	// a class that was not escrowed
	if _, err := combine(rels, "mental-health", 1); !errors.Is(err, ErrNotEscrowed) {
		t.Fatalf("mental-health: %v", err)
	}
}
