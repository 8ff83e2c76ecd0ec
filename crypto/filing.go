package crypto

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// filingSecretInfo is the HKDF info of an account's filing secret.
const filingSecretInfo = "healthd/filing-secret/v1"

// FilingSecret derives an account's filing secret from its HPKE private key:
// a 32-byte key only the account's holder has (the mnemonic restores it),
// under which the account's clients derive the keys of the records they file
// (SourceKeys). The CLI, the portal and the FHIR server of one account derive
// the same secret, so a resource filed by one is recognised by the others.
func FilingSecret(priv hpke.PrivateKey) ([]byte, error) {
	seed, err := priv.Bytes()
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, seed, []byte("healthd"), filingSecretInfo, 32)
}

// Source names what a filed record is: its header (patient, data class,
// resource type), the SHA-256 of its plaintext, which occurrence of that
// same plaintext it is in the filing (0 for the first: two identical resources
// in one Bundle are two records), and the scope within which filing it again
// is a retry (zero: any filing by this account, as the CLI's import; else,
// say, the hash of a Bundle or an idempotency key the EHR sent).
type Source struct {
	Header     Header
	Plaintext  [32]byte
	Occurrence uint32
	Scope      [32]byte
}

// SourceKeys derives the data key and salt of the record src from the filer's
// secret, so that filing the same resource again makes the same ciphertext,
// hence the same content hash, which the chain commits only once: a re-run
// import or a retried request cannot file a record twice.
//
// This is deterministic authenticated encryption in the SIV manner: the key is
// a PRF (HMAC-SHA256 under the secret) of the whole plaintext and its header,
// so one (data key, salt) pair only ever encrypts one plaintext, and the
// chunk nonces, which repeat per key by design, never protect two different
// messages. What it reveals is equality: the same filer filing the same
// plaintext for the same patient gets the same ciphertext, which is the point;
// nobody without the secret can tell anything from the hash (it is over
// ciphertext under a key they cannot compute), and two filers, two patients or
// two occurrences never share a key.
func SourceKeys(secret []byte, src Source) (dataKey, salt []byte, err error) {
	if len(secret) != 32 {
		return nil, nil, fmt.Errorf("want a 32-byte filing secret, got %d bytes", len(secret))
	}
	hdr, err := src.Header.encode()
	if err != nil {
		return nil, nil, err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("healthd/record-source/v1\x00"))
	m.Write(hdr)
	m.Write(src.Plaintext[:])
	_ = binary.Write(m, binary.BigEndian, src.Occurrence)
	m.Write(src.Scope[:])
	prk := m.Sum(nil)
	if dataKey, err = hkdf.Expand(sha256.New, prk, "healthd/record-source/data-key", dataKeySize); err != nil {
		return nil, nil, err
	}
	if salt, err = hkdf.Expand(sha256.New, prk, "healthd/record-source/salt", saltSize); err != nil {
		return nil, nil, err
	}
	return dataKey, salt, nil
}

// NewRecordWriterWithSalt is NewRecordWriter with the salt given rather than
// random: for SourceKeys, whose data key and salt come from the plaintext.
// Anything else must use NewRecordWriter.
func NewRecordWriterWithSalt(w io.Writer, dataKey, salt []byte, h Header) (io.WriteCloser, error) {
	if len(salt) != saltSize {
		return nil, fmt.Errorf("want a %d-byte salt, got %d", saltSize, len(salt))
	}
	return newRecordWriter(w, dataKey, salt, h, ChunkSize)
}
