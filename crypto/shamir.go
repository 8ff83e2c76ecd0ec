package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// Shamir's secret sharing over GF(2^8), byte by byte: a secret of n bytes is
// split into shares of n bytes plus an x-coordinate; any threshold of them
// give the secret back, fewer give no information about it (each byte of a
// share is a value of an independent random polynomial whose constant term is
// the secret byte).
//
// The field is AES's (FIPS-197 §4.2: the polynomial x^8 + x^4 + x^3 + x + 1),
// so its multiplication can be checked against the standard's published
// examples (shamir_test.go). No maintained stand-alone Go module offers this
// (HashiCorp's implementation lives inside the Vault server module); it is
// small enough to own, with those vectors and property tests.

// Share is one share of a secret: its x-coordinate (1..255) and the values
// of the polynomials there.
type Share struct {
	X byte
	Y []byte
}

// ErrShares is returned when shares cannot give a secret back: fewer than
// needed, mixed lengths or a repeated x-coordinate.
var ErrShares = errors.New("these shares cannot be combined")

// SplitSecret splits secret into n shares (x-coordinates 1..n), any threshold
// of which recover it. 2 <= threshold <= n <= 255.
func SplitSecret(secret []byte, n, threshold int) ([]Share, error) {
	if threshold < 2 || threshold > n || n > 255 {
		return nil, fmt.Errorf("want 2 <= threshold (%d) <= shares (%d) <= 255", threshold, n)
	}
	if len(secret) == 0 {
		return nil, errors.New("an empty secret")
	}
	shares := make([]Share, n)
	for i := range shares {
		shares[i] = Share{X: byte(i + 1), Y: make([]byte, len(secret))}
	}
	coef := make([]byte, threshold) // coef[0] is the secret byte, the rest random
	for b, s := range secret {
		if _, err := rand.Read(coef[1:]); err != nil {
			return nil, err
		}
		coef[0] = s
		for i := range shares {
			shares[i].Y[b] = evalPoly(coef, shares[i].X)
		}
	}
	clear(coef)
	return shares, nil
}

// CombineShares recovers a secret from at least threshold of its shares (all
// given shares are used: pass exactly the ones you trust). With fewer than the
// threshold the result is a wrong secret, not an error: check it (healthd
// checks every share against its commitment, and the class key against the
// records it opens).
func CombineShares(shares []Share) ([]byte, error) {
	if len(shares) < 2 {
		return nil, fmt.Errorf("%w: %d share(s), at least 2 are needed", ErrShares, len(shares))
	}
	size := len(shares[0].Y)
	seen := map[byte]bool{}
	for _, s := range shares {
		if s.X == 0 || seen[s.X] || len(s.Y) != size || size == 0 {
			return nil, fmt.Errorf("%w: x-coordinates must be distinct and non-zero, values of one length", ErrShares)
		}
		seen[s.X] = true
	}
	// Lagrange interpolation at x = 0: secret = sum_i y_i * prod_{j != i} x_j / (x_j - x_i);
	// in GF(2^8) subtraction is addition (xor).
	secret := make([]byte, size)
	for i, si := range shares {
		basis := byte(1)
		for j, sj := range shares {
			if i != j {
				basis = gfMul(basis, gfDiv(sj.X, sj.X^si.X))
			}
		}
		for b := range secret {
			secret[b] ^= gfMul(si.Y[b], basis)
		}
	}
	return secret, nil
}

// evalPoly evaluates the polynomial with coefficients coef (lowest first) at x
// (Horner's rule).
func evalPoly(coef []byte, x byte) byte {
	var y byte
	for i := len(coef) - 1; i >= 0; i-- {
		y = gfMul(y, x) ^ coef[i]
	}
	return y
}

// gfMul multiplies in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, in constant time
// (no table lookups indexed by secret bytes, no branches on them).
func gfMul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= -(b & 1) & a
		hi := -(a >> 7)
		a = a<<1 ^ hi&0x1b
		b >>= 1
	}
	return p
}

// gfInv is a's multiplicative inverse (a^254); gfInv(0) is 0, never used.
func gfInv(a byte) byte {
	// a^254 = a^(2+4+8+16+32+64+128)
	r := byte(1)
	sq := a
	for range 7 {
		sq = gfMul(sq, sq)
		r = gfMul(r, sq)
	}
	return r
}

func gfDiv(a, b byte) byte { return gfMul(a, gfInv(b)) }
