package crypto

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// seal encrypts plain under src's keys and returns the ciphertext.
func sealSource(t *testing.T, secret []byte, src Source, plain []byte) []byte {
	t.Helper()
	dk, salt, err := SourceKeys(secret, src)
	require.NoError(t, err)
	var ct bytes.Buffer
	w, err := NewRecordWriterWithSalt(&ct, dk, salt, src.Header)
	require.NoError(t, err)
	_, err = w.Write(plain)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return ct.Bytes()
}

func TestSourceKeysFileOnce(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	plain := []byte(`{"resourceType":"Observation","valueQuantity":{"value":6.1}}`)
	src := Source{Header: Header{DataClass: "lab-result", Patient: "health1alice", FHIRResourceType: "Observation"}, Plaintext: sha256.Sum256(plain)}

	// the same resource filed again by the same filer is the same ciphertext
	first := sealSource(t, secret, src, plain)
	require.Equal(t, first, sealSource(t, secret, src, plain))

	// and it opens with the derived data key like any record
	dk, _, err := SourceKeys(secret, src)
	require.NoError(t, err)
	hdr, r, err := NewRecordReader(bytes.NewReader(first), dk)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, plain, got)
	require.Equal(t, src.Header, hdr)

	// anything else that differs makes another ciphertext: no two of these
	// share a (key, salt), so no chunk nonce protects two messages
	other := func(f func(*Source)) Source { s := src; f(&s); return s }
	variants := map[string][]byte{
		"another filer":      sealSource(t, bytes.Repeat([]byte{8}, 32), src, plain),
		"another occurrence": sealSource(t, secret, other(func(s *Source) { s.Occurrence = 1 }), plain),
		"another patient":    sealSource(t, secret, other(func(s *Source) { s.Header.Patient = "health1bob" }), plain),
		"another class":      sealSource(t, secret, other(func(s *Source) { s.Header.DataClass = "vital-signs" }), plain),
	}
	changed := []byte(`{"resourceType":"Observation","valueQuantity":{"value":6.2}}`)
	variants["another content"] = sealSource(t, secret, other(func(s *Source) { s.Plaintext = sha256.Sum256(changed) }), changed)
	seen := map[string]string{string(first[:64]): "the first"}
	for name, ct := range variants {
		prefix := string(ct[:64]) // magic, header with the salt
		require.NotContains(t, seen, prefix, "%s shares a salt with %s", name, seen[prefix])
		seen[prefix] = name
	}

	_, _, err = SourceKeys(secret[:16], src)
	require.ErrorContains(t, err, "32-byte filing secret")
	_, err = NewRecordWriterWithSalt(io.Discard, dk, []byte{1}, src.Header)
	require.ErrorContains(t, err, "salt")
}
