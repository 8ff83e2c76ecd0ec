package crypto

import (
	"bytes"
	"testing"
)

// The field multiplication against FIPS-197's published examples (§4.2,
// §4.2.1): {57}•{83} = {c1}, {57}•{13} = {fe}, xtime chain {57}•{02} = {ae},
// {57}•{04} = {47}, {57}•{08} = {8e}, {57}•{10} = {07}; and every non-zero
// element has an inverse.
func TestGF256MatchesFIPS197(t *testing.T) {
	for _, v := range []struct{ a, b, want byte }{
		{0x57, 0x83, 0xc1}, {0x57, 0x13, 0xfe}, {0x57, 0x02, 0xae}, {0x57, 0x04, 0x47}, {0x57, 0x08, 0x8e}, {0x57, 0x10, 0x07},
	} {
		if got := gfMul(v.a, v.b); got != v.want {
			t.Fatalf("{%02x}•{%02x} = {%02x}, want {%02x}", v.a, v.b, got, v.want)
		}
	}
	for a := 1; a < 256; a++ {
		if gfMul(byte(a), gfInv(byte(a))) != 1 {
			t.Fatalf("{%02x} has no inverse", a)
		}
		for b := 0; b < 256; b++ {
			if gfMul(byte(a), byte(b)) != gfMul(byte(b), byte(a)) {
				t.Fatal("not commutative")
			}
		}
	}
}

// Any threshold of the shares (every subset, for small n) recovers the
// secret; a combination of fewer does not.
func TestShamirAnyThresholdRecovers(t *testing.T) {
	secret := []byte("a 32-byte class key, for example")
	for _, c := range []struct{ n, k int }{{2, 2}, {3, 2}, {3, 3}, {5, 3}, {7, 4}} {
		shares, err := SplitSecret(secret, c.n, c.k)
		if err != nil {
			t.Fatal(err)
		}
		for mask := 1; mask < 1<<c.n; mask++ {
			var subset []Share
			for i := range c.n {
				if mask&(1<<i) != 0 {
					subset = append(subset, shares[i])
				}
			}
			if len(subset) < 2 {
				continue
			}
			got, err := CombineShares(subset)
			if err != nil {
				t.Fatal(err)
			}
			if ok := bytes.Equal(got, secret); ok != (len(subset) >= c.k) {
				t.Fatalf("%d of %d (threshold %d): recovered %v", len(subset), c.n, c.k, ok)
			}
		}
	}
	if _, err := SplitSecret(secret, 3, 1); err == nil {
		t.Fatal("a threshold of 1 was accepted")
	}
	if _, err := SplitSecret(secret, 2, 3); err == nil {
		t.Fatal("a threshold above the number of shares was accepted")
	}
	shares, _ := SplitSecret(secret, 3, 2)
	if _, err := CombineShares([]Share{shares[0], shares[0]}); err == nil {
		t.Fatal("a repeated share was combined")
	}
}

// Fewer than the threshold reveal nothing: for threshold 2, the one share at
// x takes every byte value exactly once as the random coefficient ranges over
// the field, whatever the secret byte, so a single share is uniform and
// independent of the secret. The same holds for threshold 3 and two shares
// (every pair of values exactly 256 times as the two coefficients range over
// the field).
func TestShamirFewerSharesRevealNothing(t *testing.T) {
	for secret := range 256 {
		for x := 1; x < 256; x += 17 {
			var count [256]int
			for c1 := range 256 {
				count[evalPoly([]byte{byte(secret), byte(c1)}, byte(x))]++
			}
			for v, n := range count {
				if n != 1 {
					t.Fatalf("threshold 2, secret %d, x %d: value %d taken %d times", secret, x, v, n)
				}
			}
		}
	}
	for _, secret := range []int{0, 1, 0x5a, 255} {
		count := map[[2]byte]int{}
		for c1 := range 256 {
			for c2 := range 256 {
				p := []byte{byte(secret), byte(c1), byte(c2)}
				count[[2]byte{evalPoly(p, 1), evalPoly(p, 2)}]++
			}
		}
		if len(count) != 256*256 {
			t.Fatalf("threshold 3, secret %d: two shares take %d distinct values, want 65536", secret, len(count))
		}
	}
}
