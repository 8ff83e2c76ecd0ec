package crypto

import (
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
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

const envelopeV1 = 1

// WrapDataKey wraps a record's data key under a class key: the record's
// key_envelope. Layout: version (1) | nonce (12) | AES-256-GCM(data key), with
// the key context and the record's content hash (the SHA-256 of its
// ciphertext, known once it is encrypted) as additional data, so an envelope
// cannot be copied onto another record.
func WrapDataKey(classKey, dataKey []byte, ctx KeyContext, contentHash []byte) ([]byte, error) {
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
	return aead.Seal(out, nonce, dataKey, append(ctx.bytes("data-key"), contentHash...)), nil
}

// UnwrapDataKey opens a record's key_envelope with the class key; contentHash is
// the record's on-chain content hash.
func UnwrapDataKey(classKey, envelope []byte, ctx KeyContext, contentHash []byte) ([]byte, error) {
	aead, err := newGCM(classKey)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(envelope) < 1+ns+tagSize || envelope[0] != envelopeV1 {
		return nil, ErrUnwrap
	}
	key, err := aead.Open(nil, envelope[1:1+ns], envelope[1+ns:], append(ctx.bytes("data-key"), contentHash...))
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

// grantMagic starts every key grant (version 1).
const grantMagic = "HDKG1"

// WrapClassKey wraps a class key to a recipient's HPKE public key (the patient
// itself, or a grantee): a consent's key grant. A grant says in clear which
// class and epoch it is for (so a grantee holding several knows which to open),
// and binds them, with the patient, as HPKE info:
//
//	"HDKG1" | class length (uint16 BE) | class | epoch (uint64 BE) | HPKE enc | ciphertext
//
// About 1,190 bytes: under x/consent's 2,048-byte cap.
func WrapClassKey(recipientPublicKey, classKey []byte, ctx KeyContext) ([]byte, error) {
	kem, kdf, aead := suite()
	pub, err := kem.NewPublicKey(recipientPublicKey)
	if err != nil {
		return nil, fmt.Errorf("recipient key: %w", err)
	}
	if len(classKey) != dataKeySize {
		return nil, fmt.Errorf("want a %d-byte class key, got %d", dataKeySize, len(classKey))
	}
	sealed, err := hpke.Seal(pub, kdf, aead, ctx.bytes("class-key"), classKey)
	if err != nil {
		return nil, err
	}
	return EncodeGrant(ctx.DataClass, ctx.Epoch, sealed)
}

// GrantSealedSize is the size of a key grant's HPKE part: the MLKEM768X25519
// encapsulation (1,088 + 32 bytes) and the AES-256-GCM sealing of a 32-byte
// class key (32 + 16 bytes).
const GrantSealedSize = 1120 + 48

// EncodeGrant lays out a key grant from its label and HPKE part (see
// WrapClassKey); sealed must be GrantSealedSize bytes.
func EncodeGrant(dataClass string, epoch uint64, sealed []byte) ([]byte, error) {
	if len(dataClass) > 255 {
		return nil, fmt.Errorf("data class of %d bytes", len(dataClass))
	}
	if len(sealed) != GrantSealedSize {
		return nil, fmt.Errorf("sealed class key of %d bytes, want %d", len(sealed), GrantSealedSize)
	}
	out := append([]byte(grantMagic), 0, byte(len(dataClass)))
	out = append(out, dataClass...)
	out = binary.BigEndian.AppendUint64(out, epoch)
	return append(out, sealed...), nil
}

// GrantLabel reads the data class and epoch a key grant is for, without opening
// it. ok is false for bytes that are not a healthd key grant of the right
// size (the chain refuses those).
func GrantLabel(grant []byte) (dataClass string, epoch uint64, ok bool) {
	_, class, epoch, ok := parseGrant(grant)
	return class, epoch, ok
}

func parseGrant(grant []byte) (sealed []byte, class string, epoch uint64, ok bool) {
	if len(grant) < len(grantMagic)+2 || string(grant[:len(grantMagic)]) != grantMagic {
		return nil, "", 0, false
	}
	rest := grant[len(grantMagic):]
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) != n+8+GrantSealedSize {
		return nil, "", 0, false
	}
	return rest[n+8:], string(rest[:n]), binary.BigEndian.Uint64(rest[n : n+8]), true
}

// UnwrapClassKey opens a key grant of patient's with the recipient's private key;
// the grant's label gives the class and epoch, which the opening authenticates.
func UnwrapClassKey(recipient hpke.PrivateKey, grant []byte, patient string) ([]byte, KeyContext, error) {
	sealed, class, epoch, ok := parseGrant(grant)
	if !ok {
		return nil, KeyContext{}, ErrUnwrap
	}
	ctx := KeyContext{Patient: patient, DataClass: class, Epoch: epoch}
	_, kdf, aead := suite()
	key, err := hpke.Open(recipient, kdf, aead, ctx.bytes("class-key"), sealed)
	if err != nil {
		return nil, KeyContext{}, ErrUnwrap
	}
	return key, ctx, nil
}

// MaxKeyEpoch is the last class-key epoch: a patient can rotate each class key
// MaxKeyEpoch-1 times (one per revocation of a consent carrying it).
const MaxKeyEpoch = 4096

// PatientClassKey derives a patient's class key for (class, epoch) from the
// patient's own encryption private key: patients never store class keys, their
// mnemonic restores every one.
//
// The epochs of a class form a key-regression chain (Fu, Kamara, Kohno, NDSS
// 2006): the key of the last epoch is derived from the patient's key, and each
// earlier epoch's key is a one-way hash of the next one's. A grantee holding the
// key of epoch e can therefore compute every earlier epoch's key (and read the
// records written before a rotation) with a single key grant, but not the key
// of epoch e+1: a revoked grantee cannot open records written after it.
func PatientClassKey(patient hpke.PrivateKey, ctx KeyContext) ([]byte, error) {
	if ctx.Epoch < 1 || ctx.Epoch > MaxKeyEpoch {
		return nil, fmt.Errorf("class-key epoch %d is outside 1..%d", ctx.Epoch, MaxKeyEpoch)
	}
	seed, err := patient.Bytes()
	if err != nil {
		return nil, err
	}
	last := KeyContext{Patient: ctx.Patient, DataClass: ctx.DataClass, Epoch: MaxKeyEpoch}
	top, err := hkdf.Key(sha256.New, seed, []byte("healthd"), string(last.bytes("patient-class-key")), dataKeySize)
	if err != nil {
		return nil, err
	}
	return RegressClassKey(top, MaxKeyEpoch, ctx.Epoch)
}

// RegressClassKey returns the class key of epoch to, given the key of epoch
// from (to <= from). Going forward is what the construction makes impossible.
func RegressClassKey(key []byte, from, to uint64) ([]byte, error) {
	if to < 1 || to > from || from > MaxKeyEpoch {
		return nil, fmt.Errorf("the key of epoch %d cannot give the key of epoch %d: only earlier epochs can be derived", from, to)
	}
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("class key is %d bytes, want %d", len(key), dataKeySize)
	}
	k := make([]byte, dataKeySize)
	copy(k, key)
	var buf []byte
	for e := from; e > to; e-- {
		// the step from epoch e to e-1, bound to e
		buf = binary.BigEndian.AppendUint64(append(buf[:0], "healthd/class-key-regression/v1"...), e)
		h := sha256.Sum256(append(buf, k...))
		copy(k, h[:])
	}
	return k, nil
}
