package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/vault"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// filing is the resources of one patient being filed by a bulk write
// (ImportBundle, CreateAll): each is sealed under keys derived from the
// agent's filing secret and its source (crypto.SourceKeys), so a resource
// already filed by an earlier run or request has the content hash of a record
// on chain, and is reported, not filed again.
type filing struct {
	patient   string
	resources []json.RawMessage
	types     []string
	classes   []string
	// occurrence[i] is how many resources before i in this filing have the
	// same type, class and bytes: identical resources of one Bundle stay
	// distinct records, and a re-run of the same Bundle numbers them alike.
	occurrence []uint32
	keys       map[string][]byte
	ctxs       map[string]crypto.KeyContext
	// entries[i] is the record to commit for resources[i], unless filed[i]
	// is set: the record already on chain.
	entries []recordstypes.RecordEntry
	filed   []*recordstypes.Record
}

func newFiling(patient string, resources []json.RawMessage, types, classes []string) *filing {
	f := &filing{
		patient: patient, resources: resources, types: types, classes: classes,
		occurrence: make([]uint32, len(resources)), keys: map[string][]byte{}, ctxs: map[string]crypto.KeyContext{},
		entries: make([]recordstypes.RecordEntry, len(resources)), filed: make([]*recordstypes.Record, len(resources)),
	}
	type same struct {
		typ, class string
		sum        [32]byte
	}
	seen := map[same]uint32{}
	for i, r := range resources {
		k := same{types[i], classes[i], sha256.Sum256(r)}
		f.occurrence[i] = seen[k]
		seen[k]++
	}
	return f
}

// fresh returns the indexes in [c[0], c[1]) of the resources to commit (not
// filed before), and their entries.
func (f *filing) fresh(c [2]int) ([]int, []recordstypes.RecordEntry) {
	var idx []int
	var entries []recordstypes.RecordEntry
	for i := c[0]; i < c[1]; i++ {
		if f.filed[i] == nil {
			idx, entries = append(idx, i), append(entries, f.entries[i])
		}
	}
	return idx, entries
}

// seal encrypts resource i of f under its source-derived keys.
func (a *Agent) seal(f *filing, i int) (vault.Hash, []byte, []byte, error) {
	hdr := crypto.Header{DataClass: f.classes[i], Patient: f.patient, FHIRResourceType: f.types[i]}
	dataKey, salt, err := crypto.SourceKeys(a.filing, crypto.Source{
		Header: hdr, Plaintext: sha256.Sum256(f.resources[i]), Occurrence: f.occurrence[i],
	})
	if err != nil {
		return vault.Hash{}, nil, nil, err
	}
	var ct bytes.Buffer
	hash, err := encryptWith(&ct, bytes.NewReader(f.resources[i]), hdr, dataKey, salt)
	if err != nil {
		return vault.Hash{}, nil, nil, err
	}
	return hash, ct.Bytes(), dataKey, nil
}

// filedBefore returns the record on chain with content hash h, if any. A
// hash is committed once, ever; with source-derived keys, a record of this
// hash is this very resource filed by this account for this patient before
// (an interrupted import run again, a retried request), and is refused as
// anything else.
func (a *Agent) filedBefore(ctx context.Context, h vault.Hash, patient string) (*recordstypes.Record, error) {
	resp, err := recordstypes.NewQueryClient(a.clientCtx).RecordByHash(ctx, &recordstypes.QueryRecordByHashRequest{ContentHash: hex.EncodeToString(h[:])})
	switch {
	case status.Code(err) == codes.NotFound:
		return nil, nil
	case err != nil:
		return nil, err
	}
	rec := resp.Record
	if rec.Author != a.addr || rec.Patient != patient {
		return nil, errForeignHash
	}
	return &rec, nil
}

// errForeignHash is a source-derived hash committed by another author or for
// another patient: someone copied it from the mempool and committed it first
// (the vault never serves such a record: its uploader is not its author).
// The resource is then sealed under a fresh random key instead, so an
// attacker who front-runs a hash cannot stop the resource from being filed;
// only that resource loses its idempotency.
var errForeignHash = errors.New("content hash committed by another author or patient")

// uploadChunk seals the resources of chunk c, finds those filed before, and
// uploads the others in one batch request (one by one if larger than
// inlineMaxSize), filling in their record entries.
func (a *Agent) uploadChunk(ctx context.Context, f *filing, c [2]int, vaultURL, host string) error {
	var blobs []vault.BatchData
	var idx []int
	dataKeys := map[int][]byte{}
	for i := c[0]; i < c[1]; i++ {
		hash, ct, dataKey, err := a.seal(f, i)
		if err != nil {
			return err
		}
		f.filed[i], err = a.filedBefore(ctx, hash, f.patient)
		if errors.Is(err, errForeignHash) {
			var buf bytes.Buffer
			hash, dataKey, err = encrypt(&buf, bytes.NewReader(f.resources[i]),
				crypto.Header{DataClass: f.classes[i], Patient: f.patient, FHIRResourceType: f.types[i]})
			ct = buf.Bytes()
		}
		if err != nil {
			return fmt.Errorf("resource %d (%s): %w", i, f.types[i], err)
		}
		if f.filed[i] != nil {
			continue
		}
		if len(ct) > inlineMaxSize {
			if err := a.vaultClient(vaultURL).Put(ctx, hash, io.Reader(bytes.NewReader(ct)), int64(len(ct))); err != nil {
				return fmt.Errorf("resource %d (%s): %w", i, f.types[i], err)
			}
			if f.entries[i], err = f.entry(i, host, hash, int64(len(ct)), dataKey); err != nil {
				return err
			}
			continue
		}
		blobs, idx, dataKeys[i] = append(blobs, vault.BatchData{Hash: hash, Data: ct}), append(idx, i), dataKey
	}
	if len(blobs) == 0 {
		return nil
	}
	res, err := a.vaultClient(vaultURL).PutBatch(ctx, blobs)
	if err != nil {
		return err
	}
	for j, r := range res {
		i := idx[j]
		if r.Status >= 300 {
			return fmt.Errorf("resource %d (%s): vault: %d %s", i, f.types[i], r.Status, r.Error)
		}
		if f.entries[i], err = f.entry(i, host, blobs[j].Hash, int64(len(blobs[j].Data)), dataKeys[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *filing) entry(i int, host string, hash vault.Hash, size int64, dataKey []byte) (recordstypes.RecordEntry, error) {
	c := f.classes[i]
	return recordEntry(host, hash, size, dataKey, c, f.types[i], f.keys[c], f.ctxs[c])
}
