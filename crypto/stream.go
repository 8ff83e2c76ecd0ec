package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Record ciphertext format, version 1:
//
//	magic "HDREC" | version 0x01 | header length (uint16 BE) | header
//	chunk 0 | chunk 1 | … | final chunk
//
// The header is a 32-byte random salt, then (data class, patient, FHIR resource
// type), each a uint16-BE length and bytes. The chunk key is HKDF-SHA256(data
// key, salt): even a data key used twice by mistake gets a fresh chunk key, so
// nonces never repeat. Each chunk is AES-256-GCM of up to ChunkSize plaintext
// bytes, with nonce = chunk index (uint64 BE) | final flag (1 byte) | 3 zero
// bytes, and the whole prefix (magic to header) as additional data. The final
// flag makes truncation detectable and the index makes reordering detectable
// (the STREAM construction of Hoang, Reyhanitabar, Rogaway, Vizár).
const (
	// ChunkSize is the plaintext size of every chunk but the last.
	ChunkSize    = 64 << 10
	formatMagic  = "HDREC"
	formatV1     = 1
	tagSize      = 16
	dataKeySize  = 32
	saltSize     = 32
	maxHeaderLen = 4096
)

// ErrDecrypt is returned for any ciphertext that does not authenticate: a wrong
// key, a modified byte, a truncated or reordered stream.
var ErrDecrypt = errors.New("record ciphertext does not authenticate (wrong key, or modified, truncated or reordered data)")

// Header is authenticated with every chunk: a ciphertext cannot be passed off as
// another patient's, or another class's, record.
type Header struct {
	DataClass        string
	Patient          string
	FHIRResourceType string
}

func (h Header) encode() ([]byte, error) {
	var b bytes.Buffer
	for _, f := range []string{h.DataClass, h.Patient, h.FHIRResourceType} {
		if len(f) > 1024 {
			return nil, fmt.Errorf("header field of %d bytes", len(f))
		}
		_ = binary.Write(&b, binary.BigEndian, uint16(len(f)))
		b.WriteString(f)
	}
	return b.Bytes(), nil
}

func decodeHeader(b []byte) (Header, error) {
	var fields [3]string
	for i := range fields {
		if len(b) < 2 {
			return Header{}, ErrDecrypt
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return Header{}, ErrDecrypt
		}
		fields[i], b = string(b[2:2+n]), b[2+n:]
	}
	if len(b) != 0 {
		return Header{}, ErrDecrypt
	}
	return Header{DataClass: fields[0], Patient: fields[1], FHIRResourceType: fields[2]}, nil
}

// NewDataKey returns a fresh random 256-bit record data key.
func NewDataKey() ([]byte, error) {
	k := make([]byte, dataKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

// chunkAEAD derives the record's chunk cipher from its data key and salt.
func chunkAEAD(dataKey, salt []byte) (cipher.AEAD, error) {
	if len(dataKey) != dataKeySize {
		return nil, fmt.Errorf("want a %d-byte data key, got %d", dataKeySize, len(dataKey))
	}
	k, err := hkdf.Key(sha256.New, dataKey, salt, "healthd/record-chunks/v1", dataKeySize)
	if err != nil {
		return nil, err
	}
	return newGCM(k)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("want a %d-byte key, got %d", dataKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func chunkNonce(index uint64, final bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n, index)
	if final {
		n[8] = 1
	}
	return n
}

// recordWriter encrypts a stream chunk by chunk; see NewRecordWriter.
type recordWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	prefix []byte
	buf    []byte
	index  uint64
	closed bool
	chunk  int
}

// NewRecordWriter returns a writer that encrypts what is written to it into w,
// in the record format, under dataKey. Close must be called: it writes the final
// chunk. Memory use is one chunk, whatever the size of the record.
func NewRecordWriter(w io.Writer, dataKey []byte, h Header) (io.WriteCloser, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return newRecordWriter(w, dataKey, salt, h, ChunkSize)
}

func newRecordWriter(w io.Writer, dataKey, salt []byte, h Header, chunk int) (*recordWriter, error) {
	aead, err := chunkAEAD(dataKey, salt)
	if err != nil {
		return nil, err
	}
	fields, err := h.encode()
	if err != nil {
		return nil, err
	}
	hdr := append(bytes.Clone(salt), fields...)
	prefix := append([]byte(formatMagic), formatV1, 0, 0)
	binary.BigEndian.PutUint16(prefix[len(formatMagic)+1:], uint16(len(hdr)))
	prefix = append(prefix, hdr...)
	if _, err := w.Write(prefix); err != nil {
		return nil, err
	}
	return &recordWriter{w: w, aead: aead, prefix: prefix, buf: make([]byte, 0, chunk), chunk: chunk}, nil
}

func (rw *recordWriter) Write(p []byte) (int, error) {
	if rw.closed {
		return 0, errors.New("write after close")
	}
	n := len(p)
	for len(p) > 0 {
		// A full buffer is sealed only when more data follows it: the last chunk
		// must carry the final flag, and only Close knows which one is last.
		if len(rw.buf) == rw.chunk {
			if err := rw.seal(false); err != nil {
				return 0, err
			}
		}
		m := min(rw.chunk-len(rw.buf), len(p))
		rw.buf = append(rw.buf, p[:m]...)
		p = p[m:]
	}
	return n, nil
}

func (rw *recordWriter) seal(final bool) error {
	out := rw.aead.Seal(nil, chunkNonce(rw.index, final), rw.buf, rw.prefix)
	rw.index++
	rw.buf = rw.buf[:0]
	_, err := rw.w.Write(out)
	return err
}

// Close writes the final chunk (possibly empty).
func (rw *recordWriter) Close() error {
	if rw.closed {
		return nil
	}
	rw.closed = true
	return rw.seal(true)
}

// recordReader decrypts a stream chunk by chunk; see NewRecordReader.
type recordReader struct {
	r       io.Reader
	aead    cipher.AEAD
	prefix  []byte
	index   uint64
	plain   []byte
	pending []byte // the bytes read ahead of the current chunk
	done    bool
	err     error // sticky: once a chunk fails, every later Read fails
	chunk   int
}

// NewRecordReader reads the record header from r and returns it with a reader of
// the plaintext, decrypted with dataKey. Every chunk is authenticated before its
// plaintext is returned; a modified, truncated or reordered stream, or a wrong
// key, gives ErrDecrypt. Plaintext of the chunks before a bad one has already
// been returned: write to a temporary file and keep it only when Read reaches
// io.EOF without error.
func NewRecordReader(r io.Reader, dataKey []byte) (Header, io.Reader, error) {
	return newRecordReader(r, dataKey, ChunkSize)
}

func newRecordReader(r io.Reader, dataKey []byte, chunk int) (Header, *recordReader, error) {
	if len(dataKey) != dataKeySize {
		return Header{}, nil, fmt.Errorf("want a %d-byte data key, got %d", dataKeySize, len(dataKey))
	}
	fixed := make([]byte, len(formatMagic)+3)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return Header{}, nil, ErrDecrypt
	}
	if string(fixed[:len(formatMagic)]) != formatMagic || fixed[len(formatMagic)] != formatV1 {
		return Header{}, nil, fmt.Errorf("not a healthd record ciphertext (version 1): %w", ErrDecrypt)
	}
	n := int(binary.BigEndian.Uint16(fixed[len(formatMagic)+1:]))
	if n > maxHeaderLen || n < saltSize {
		return Header{}, nil, ErrDecrypt
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return Header{}, nil, ErrDecrypt
	}
	h, err := decodeHeader(hdr[saltSize:])
	if err != nil {
		return Header{}, nil, err
	}
	aead, err := chunkAEAD(dataKey, hdr[:saltSize])
	if err != nil {
		return Header{}, nil, err
	}
	rr := &recordReader{r: r, aead: aead, prefix: append(fixed, hdr...), chunk: chunk}
	// The header is authenticated by the first chunk: open it now, so that a
	// wrong key or a modified header fails before the caller trusts the header.
	if err := rr.next(); err != nil {
		return Header{}, nil, err
	}
	return h, rr, nil
}

// next reads and opens the next chunk. A chunk is final when no byte follows it.
func (rr *recordReader) next() error {
	want := rr.chunk + tagSize
	buf := make([]byte, want+1)
	copy(buf, rr.pending)
	got := len(rr.pending)
	for zeros := 0; got < len(buf); {
		m, err := rr.r.Read(buf[got:])
		got += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if m == 0 {
			if zeros++; zeros > 100 {
				return io.ErrNoProgress
			}
		}
	}
	final := got <= want
	sealed := buf[:min(got, want)]
	rr.pending = append(rr.pending[:0], buf[len(sealed):got]...)
	if len(sealed) < tagSize {
		return ErrDecrypt
	}
	plain, err := rr.aead.Open(nil, chunkNonce(rr.index, final), sealed, rr.prefix)
	if err != nil {
		return ErrDecrypt
	}
	rr.index++
	rr.plain = plain
	rr.done = final
	return nil
}

func (rr *recordReader) Read(p []byte) (int, error) {
	for len(rr.plain) == 0 {
		if rr.err != nil {
			return 0, rr.err
		}
		if rr.done {
			return 0, io.EOF
		}
		if err := rr.next(); err != nil {
			rr.err = err
			return 0, err
		}
	}
	n := copy(p, rr.plain)
	rr.plain = rr.plain[n:]
	return n, nil
}
