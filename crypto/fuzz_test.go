package crypto

import (
	"bytes"
	"io"
	"testing"
)

// The fuzz targets of the client-side encryption's decoders: everything a
// client opens came from a vault or the chain, which may be hostile. Each
// must refuse bad input with an error — never panic, never return plaintext
// that was not sealed under the key. `make fuzz` runs them long; CI runs each
// briefly (docs/development.md, "Fuzzing").

var fuzzKey = bytes.Repeat([]byte{7}, 32)

// sealed64 seals plain under fuzzKey in chunks of 64 bytes, so that
// multi-chunk streams are within the fuzzer's reach.
func sealed64(f *testing.F, plain []byte) []byte {
	f.Helper()
	var buf bytes.Buffer
	w, err := newRecordWriter(&buf, fuzzKey, bytes.Repeat([]byte{1}, 32), testHeader, 64)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzRecordReader: the record stream decoder (header, chunks, tags). Only
// the streams sealed here decrypt to the end: any other that does is a
// forgery, a truncation or a reordering the format failed to detect.
func FuzzRecordReader(f *testing.F) {
	genuine := map[string]bool{}
	for _, plain := range [][]byte{[]byte(`{"resourceType":"Observation"}`), nil, bytes.Repeat([]byte("x"), 3*64+1)} {
		s := sealed64(f, plain)
		genuine[string(s)] = true
		f.Add(s)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, stream []byte) {
		_, r, err := newRecordReader(bytes.NewReader(stream), fuzzKey, 64)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
		if !genuine[string(stream)] {
			t.Fatalf("a stream not sealed under the key decrypted to the end (%d bytes)", len(stream))
		}
	})
}

// FuzzUnwrapDataKey: a record's key envelope, as the chain serves it.
func FuzzUnwrapDataKey(f *testing.F) {
	ctx := KeyContext{Patient: testHeader.Patient, DataClass: "lab-result", Epoch: 1}
	hash := bytes.Repeat([]byte{9}, 32)
	env, err := WrapDataKey(fuzzKey, bytes.Repeat([]byte{5}, 32), ctx, hash)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	f.Add([]byte{envelopeV1})
	f.Fuzz(func(t *testing.T, envelope []byte) {
		// only envelopes sealed here open (each fuzzing process seals its own
		// seed, with a fresh nonce), and they hold the one data key wrapped
		key, err := UnwrapDataKey(fuzzKey, envelope, ctx, hash)
		if err == nil && !bytes.Equal(key, bytes.Repeat([]byte{5}, 32)) {
			t.Fatalf("a forged envelope opened to %x", key)
		}
	})
}

// FuzzKeyGrant: a key grant (label and HPKE ciphertext) from a consent.
func FuzzKeyGrant(f *testing.F) {
	recipient, err := DeriveEncryptionKey(bytes.Repeat([]byte{3}, 64))
	if err != nil {
		f.Fatal(err)
	}
	ctx := KeyContext{Patient: testHeader.Patient, DataClass: "lab-result", Epoch: 2}
	grant, err := WrapClassKey(recipient.PublicKey().Bytes(), fuzzKey, ctx)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(grant)
	f.Add(grant[:20])
	f.Fuzz(func(t *testing.T, g []byte) {
		GrantLabel(g)
		key, got, err := UnwrapClassKey(recipient, g, ctx.Patient)
		if err == nil && (!bytes.Equal(key, fuzzKey) || got != ctx) {
			t.Fatalf("a forged grant opened: %x %+v", key, got)
		}
	})
}

// FuzzDecodeShares: the plaintext of sealed escrow shares (after HPKE opened
// it: a custodian's own bytes).
func FuzzDecodeShares(f *testing.F) {
	enc, err := encodeShares([]ClassShare{{DataClass: "allergy", Epoch: 3, Share: Share{X: 1, Y: []byte{1, 2, 3}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		shares, err := decodeShares(b)
		if err != nil {
			return
		}
		again, err := encodeShares(shares)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded %d shares that do not encode back to the input: %v", len(shares), err)
		}
	})
}
