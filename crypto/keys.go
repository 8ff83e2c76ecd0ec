// Package crypto holds healthd's client-side cryptography: account encryption
// keys (HPKE, RFC 9180, KEM MLKEM768X25519) and, as it grows, record and class-key
// encryption. The chain itself only validates public keys with it.
package crypto

import (
	"crypto/hpke"
	"fmt"
)

// PublicKeySize is the size of an HPKE MLKEM768X25519 public key: an ML-KEM-768
// encapsulation key (1184 bytes) followed by an X25519 key (32 bytes).
const PublicKeySize = 1216

// CheckPublicKey reports whether key is a well-formed MLKEM768X25519 public key
// (right length, and accepted by Go's crypto/hpke, which checks the ML-KEM
// encapsulation key's encoding).
func CheckPublicKey(key []byte) error {
	if len(key) != PublicKeySize {
		return fmt.Errorf("must be %d bytes (HPKE MLKEM768X25519 public key), got %d", PublicKeySize, len(key))
	}
	if _, err := hpke.MLKEM768X25519().NewPublicKey(key); err != nil {
		return fmt.Errorf("not an MLKEM768X25519 public key: %w", err)
	}
	return nil
}
