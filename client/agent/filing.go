package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

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
	scope     [32]byte // crypto.Source.Scope
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

func newFiling(patient string, scope [32]byte, resources []json.RawMessage, types, classes []string) *filing {
	f := &filing{
		patient: patient, scope: scope, resources: resources, types: types, classes: classes,
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
		Header: hdr, Plaintext: sha256.Sum256(f.resources[i]), Occurrence: f.occurrence[i], Scope: f.scope,
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

// filedBefore returns, for each hash, the record on chain with that content
// hash, if any (RecordsByHashes, one query per MaxQueryIDs). A hash is
// committed once, ever; with source-derived keys, a record of this hash is
// this very resource filed by this account for this patient before (an
// interrupted import run again, a retried request). A record of another
// author or patient sets foreign[i]: someone copied the hash from the
// mempool and committed it first (the vault never serves such a record: its
// uploader is not its author). uploadChunk then seals that resource under a
// fresh random key, so a front-run hash cannot stop it from being filed;
// only that resource loses its idempotency.
func (a *Agent) filedBefore(ctx context.Context, hashes []vault.Hash, patient string) ([]*recordstypes.Record, []bool, error) {
	filed := make([]*recordstypes.Record, len(hashes))
	foreign := make([]bool, len(hashes))
	q := recordstypes.NewQueryClient(a.clientCtx)
	for start := 0; start < len(hashes); start += recordstypes.MaxQueryIDs {
		end := min(start+recordstypes.MaxQueryIDs, len(hashes))
		req := &recordstypes.QueryRecordsByHashesRequest{}
		for _, h := range hashes[start:end] {
			req.ContentHashes = append(req.ContentHashes, hex.EncodeToString(h[:]))
		}
		resp, err := q.RecordsByHashes(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		if len(resp.Results) != end-start {
			return nil, nil, fmt.Errorf("the node answered %d of %d content hashes", len(resp.Results), end-start)
		}
		for j, r := range resp.Results {
			if r.Record == nil {
				continue
			}
			if r.Record.Author != a.addr || r.Record.Patient != patient {
				foreign[start+j] = true
				continue
			}
			filed[start+j] = r.Record
		}
	}
	return filed, foreign, nil
}

// uploadChunk seals the resources of chunk c, finds those filed before (one
// query), and uploads the others in one batch request (one by one if larger
// than inlineMaxSize), filling in their record entries.
func (a *Agent) uploadChunk(ctx context.Context, f *filing, c [2]int, vaultURL, host string) error {
	n := c[1] - c[0]
	hashes := make([]vault.Hash, n)
	cts := make([][]byte, n)
	dataKeys := make([][]byte, n)
	for j := range n {
		var err error
		if hashes[j], cts[j], dataKeys[j], err = a.seal(f, c[0]+j); err != nil {
			return err
		}
	}
	filed, foreign, err := a.filedBefore(ctx, hashes, f.patient)
	if err != nil {
		return err
	}
	var blobs []vault.BatchData
	var idx []int
	for j := range n {
		i := c[0] + j
		if f.filed[i] = filed[j]; filed[j] != nil {
			continue
		}
		if foreign[j] {
			var buf bytes.Buffer
			if hashes[j], dataKeys[j], err = encrypt(&buf, bytes.NewReader(f.resources[i]),
				crypto.Header{DataClass: f.classes[i], Patient: f.patient, FHIRResourceType: f.types[i]}); err != nil {
				return err
			}
			cts[j] = buf.Bytes()
		}
		if len(cts[j]) > inlineMaxSize {
			if err := a.vaultClient(vaultURL).Put(ctx, hashes[j], bytes.NewReader(cts[j]), int64(len(cts[j]))); err != nil {
				return fmt.Errorf("resource %d (%s): %w", i, f.types[i], err)
			}
			if f.entries[i], err = f.entry(i, host, hashes[j], int64(len(cts[j])), dataKeys[j]); err != nil {
				return err
			}
			continue
		}
		blobs, idx = append(blobs, vault.BatchData{Hash: hashes[j], Data: cts[j]}), append(idx, j)
	}
	if len(blobs) == 0 {
		return nil
	}
	res, err := a.vaultClient(vaultURL).PutBatch(ctx, blobs)
	if err != nil {
		return err
	}
	for k, r := range res {
		j := idx[k]
		i := c[0] + j
		if r.Status >= 300 {
			return fmt.Errorf("resource %d (%s): vault: %d %s", i, f.types[i], r.Status, r.Error)
		}
		if f.entries[i], err = f.entry(i, host, blobs[k].Hash, int64(len(blobs[k].Data)), dataKeys[j]); err != nil {
			return err
		}
	}
	return nil
}

func (f *filing) entry(i int, host string, hash vault.Hash, size int64, dataKey []byte) (recordstypes.RecordEntry, error) {
	c := f.classes[i]
	return recordEntry(host, hash, size, dataKey, c, f.types[i], f.keys[c], f.ctxs[c])
}
