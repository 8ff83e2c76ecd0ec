package crypto

import (
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Emergency key escrow (issue #17). A patient splits the current class key of
// each emergency class with SplitSecret among the consortium's custodians;
// each custodian gets one HPKE ciphertext holding its share of every class
// (an ML-KEM hybrid wrap costs ~1.1 KB, so one per share would be ~20 KB per
// patient). When a provider breaks the glass, each custodian opens its
// ciphertext and seals the same shares to the provider; the provider combines
// a threshold of them, checking each against the commitment the patient put
// on chain.

// ClassShare is one custodian's share of one class key.
type ClassShare struct {
	DataClass string
	Epoch     uint64
	Share     Share
}

// EscrowContext binds a patient's escrow ciphertext to its custodian and the
// custodian set it was made for.
func EscrowContext(patient, custodian string, setVersion uint64) []byte {
	return []byte("healthd/escrow/v1|" + patient + "|" + custodian + "|" + strconv.FormatUint(setVersion, 10))
}

// ReleaseContext binds a custodian's release of its shares to the emergency
// access, the patient, the custodian, the provider and the escrow the shares
// come from (its time, in Unix nanoseconds).
func ReleaseContext(accessID uint64, patient, custodian, provider string, escrowedAt int64) []byte {
	return []byte("healthd/release/v2|" + strconv.FormatUint(accessID, 10) + "|" + patient + "|" + custodian + "|" + provider + "|" +
		strconv.FormatInt(escrowedAt, 10))
}

// ShareCommitment is the hash the patient puts on chain for one share, so
// that whoever combines shares can tell a bad one (corrupted, swapped between
// classes or custodians) from a good one. Shares are uniformly random, so the
// hash reveals nothing about them.
func ShareCommitment(patient, custodian string, s ClassShare) []byte {
	h := sha256.New()
	h.Write([]byte("healthd/escrow-share/v1|" + patient + "|" + s.DataClass + "|" + strconv.FormatUint(s.Epoch, 10) + "|" + custodian + "|"))
	h.Write([]byte{s.Share.X})
	h.Write(s.Share.Y)
	return h.Sum(nil)
}

// SealShares seals a custodian's shares to recipientPublicKey (the custodian's
// encryption key for an escrow, the provider's for a release), with context
// (EscrowContext or ReleaseContext) as HPKE info.
func SealShares(recipientPublicKey []byte, shares []ClassShare, context []byte) ([]byte, error) {
	kem, kdf, aead := suite()
	pub, err := kem.NewPublicKey(recipientPublicKey)
	if err != nil {
		return nil, fmt.Errorf("recipient key: %w", err)
	}
	plain, err := encodeShares(shares)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return hpke.Seal(pub, kdf, aead, context, plain)
}

// OpenShares opens what SealShares sealed, with the same context.
func OpenShares(recipient hpke.PrivateKey, sealed, context []byte) ([]ClassShare, error) {
	_, kdf, aead := suite()
	plain, err := hpke.Open(recipient, kdf, aead, context, sealed)
	if err != nil {
		return nil, ErrUnwrap
	}
	defer clear(plain)
	return decodeShares(plain)
}

// encodeShares: count (uint8), then per share: class length (uint8) | class |
// epoch (uint64 BE) | x (uint8) | value length (uint8) | value.
func encodeShares(shares []ClassShare) ([]byte, error) {
	if len(shares) == 0 || len(shares) > 255 {
		return nil, fmt.Errorf("%d shares: want 1 to 255", len(shares))
	}
	out := []byte{byte(len(shares))}
	for _, s := range shares {
		if len(s.DataClass) == 0 || len(s.DataClass) > 255 || len(s.Share.Y) == 0 || len(s.Share.Y) > 255 {
			return nil, errors.New("a share with an empty or over-long class or value")
		}
		out = append(out, byte(len(s.DataClass)))
		out = append(out, s.DataClass...)
		out = binary.BigEndian.AppendUint64(out, s.Epoch)
		out = append(out, s.Share.X, byte(len(s.Share.Y)))
		out = append(out, s.Share.Y...)
	}
	return out, nil
}

var errShareEncoding = errors.New("malformed shares")

func decodeShares(b []byte) ([]ClassShare, error) {
	if len(b) < 1 {
		return nil, errShareEncoding
	}
	n := int(b[0])
	b = b[1:]
	if n == 0 { // what encodeShares never writes (found by FuzzDecodeShares)
		return nil, errShareEncoding
	}
	out := make([]ClassShare, 0, n)
	for range n {
		if len(b) < 1 || b[0] == 0 || len(b) < 1+int(b[0])+8+2 {
			return nil, errShareEncoding
		}
		cl := int(b[0])
		class := string(b[1 : 1+cl])
		b = b[1+cl:]
		epoch := binary.BigEndian.Uint64(b)
		x, yl := b[8], int(b[9])
		b = b[10:]
		if yl == 0 || len(b) < yl {
			return nil, errShareEncoding
		}
		out = append(out, ClassShare{DataClass: class, Epoch: epoch, Share: Share{X: x, Y: append([]byte(nil), b[:yl]...)}})
		b = b[yl:]
	}
	if len(b) != 0 {
		return nil, errShareEncoding
	}
	return out, nil
}
