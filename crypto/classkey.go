package crypto

import (
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
)

// KeyContext names a class key: the patient, the data class and the epoch. It is
// bound (as AEAD additional data / HPKE info) to everything wrapped with or to
// the key, so a wrapped key cannot be moved to another patient, class or epoch.
type KeyContext struct {
	Patient   string
	DataClass string
	Epoch     uint64
}

func (c KeyContext) bytes(purpose string) []byte {
	return []byte("healthd/" + purpose + "/v1|" + c.Patient + "|" + c.DataClass + "|" + strconv.FormatUint(c.Epoch, 10))
}

// ErrUnwrap is returned when a wrapped key does not open: a wrong key, a modified
// envelope or grant, or another context.
var ErrUnwrap = errors.New("wrapped key does not open (wrong key, modified, or another patient/class/epoch)")

// NewClassKey returns a fresh random 256-bit class key. A patient makes one per
// data class and epoch, and a new epoch when a consent is revoked, so that
// records written afterwards are unreadable with the old key.
func NewClassKey() ([]byte, error) { return NewDataKey() }

const envelopeV1 = 1

// WrapDataKey wraps a record's data key under a class key: the record's
// key_envelope. Layout: version (1) | nonce (12) | AES-256-GCM(data key), with
// the key context as additional data.
func WrapDataKey(classKey, dataKey []byte, ctx KeyContext) ([]byte, error) {
	aead, err := newGCM(classKey)
	if err != nil {
		return nil, err
	}
	if len(dataKey) != dataKeySize {
		return nil, fmt.Errorf("want a %d-byte data key, got %d", dataKeySize, len(dataKey))
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{envelopeV1}, nonce...)
	return aead.Seal(out, nonce, dataKey, ctx.bytes("data-key")), nil
}

// UnwrapDataKey opens a key_envelope with the class key.
func UnwrapDataKey(classKey, envelope []byte, ctx KeyContext) ([]byte, error) {
	aead, err := newGCM(classKey)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(envelope) < 1+ns+tagSize || envelope[0] != envelopeV1 {
		return nil, ErrUnwrap
	}
	key, err := aead.Open(nil, envelope[1:1+ns], envelope[1+ns:], ctx.bytes("data-key"))
	if err != nil {
		return nil, ErrUnwrap
	}
	return key, nil
}

// suite is healthd's HPKE suite: KEM MLKEM768X25519, KDF HKDF-SHA256, AEAD
// AES-256-GCM (RFC 9180 base mode, single-shot).
func suite() (hpke.KEM, hpke.KDF, hpke.AEAD) {
	return hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.AES256GCM()
}

// WrapClassKey wraps a class key to a recipient's HPKE public key (the patient
// itself, or a grantee): a consent's key grant. Output: the HPKE encapsulation
// followed by the ciphertext (about 1,170 bytes).
func WrapClassKey(recipientPublicKey, classKey []byte, ctx KeyContext) ([]byte, error) {
	kem, kdf, aead := suite()
	pub, err := kem.NewPublicKey(recipientPublicKey)
	if err != nil {
		return nil, fmt.Errorf("recipient key: %w", err)
	}
	if len(classKey) != dataKeySize {
		return nil, fmt.Errorf("want a %d-byte class key, got %d", dataKeySize, len(classKey))
	}
	return hpke.Seal(pub, kdf, aead, ctx.bytes("class-key"), classKey)
}

// UnwrapClassKey opens a key grant with the recipient's private key.
func UnwrapClassKey(recipient hpke.PrivateKey, grant []byte, ctx KeyContext) ([]byte, error) {
	_, kdf, aead := suite()
	key, err := hpke.Open(recipient, kdf, aead, ctx.bytes("class-key"), grant)
	if err != nil {
		return nil, ErrUnwrap
	}
	return key, nil
}
