package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	gogoproto "github.com/cosmos/gogoproto/proto"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/crypto"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// NewResource is one FHIR resource to file as a record of Patient.
type NewResource struct {
	Patient string
	Type    string // FHIR resource type
	Class   string // data class
	Raw     json.RawMessage
}

// CreateAll files every resource as one encrypted record, all or nothing: the
// write consents and class keys of every (patient, class) are checked first,
// every resource is encrypted and uploaded, and then all the records are
// committed by one transaction (one MsgCreateRecords per patient and
// max_batch_size resources), which the chain applies whole or not at all.
// It returns the record ids in the order of items. When it fails, no record
// exists; the uploads are orphans the vault deletes after its TTL.
func (a *Agent) CreateAll(ctx context.Context, items []NewResource, purpose, vaultURL string) ([]uint64, error) {
	host, maxBatch, err := a.uploadTarget(ctx, vaultURL)
	if err != nil {
		return nil, err
	}
	// group by patient, keeping the order within each
	var patients []string
	byPatient := map[string][]int{}
	for i, it := range items {
		if _, ok := byPatient[it.Patient]; !ok {
			patients = append(patients, it.Patient)
		}
		byPatient[it.Patient] = append(byPatient[it.Patient], i)
	}
	type group struct {
		patient   string
		idx       []int
		resources []json.RawMessage
		types     []string
		classes   []string
		keys      map[string][]byte
		ctxs      map[string]crypto.KeyContext
		entries   []recordstypes.RecordEntry
		chunks    [][2]int
	}
	groups := make([]*group, len(patients))
	for gi, p := range patients {
		g := &group{patient: p, idx: byPatient[p], keys: map[string][]byte{}, ctxs: map[string]crypto.KeyContext{}}
		for _, i := range g.idx {
			g.resources = append(g.resources, items[i].Raw)
			g.types = append(g.types, items[i].Type)
			g.classes = append(g.classes, items[i].Class)
			c := items[i].Class
			if _, done := g.keys[c]; done {
				continue
			}
			if err := consenttypes.ValidateDataClass(c); err != nil {
				return nil, err
			}
			if p != a.addr {
				if err := a.MayAccess(ctx, p, c, consenttypes.PermissionWrite, purpose, time.Time{}); err != nil {
					return nil, err
				}
			}
			if g.keys[c], g.ctxs[c], err = a.ClassKey(ctx, p, c, 0); err != nil {
				return nil, fmt.Errorf("class %s: %w", c, err)
			}
		}
		g.entries = make([]recordstypes.RecordEntry, len(g.idx))
		g.chunks = uploadChunks(g.resources, maxBatch)
		groups[gi] = g
	}
	type job struct {
		g *group
		c [2]int
	}
	var jobs []job
	for _, g := range groups {
		for _, c := range g.chunks {
			jobs = append(jobs, job{g, c})
		}
	}
	if err := parallel(ctx, len(jobs), bulkParallel, func(ctx context.Context, k int) error {
		j := jobs[k]
		return a.uploadChunk(ctx, j.c, j.g.resources, j.g.types, j.g.classes, j.g.patient, vaultURL, host, j.g.keys, j.g.ctxs, j.g.entries)
	}); err != nil {
		return nil, err
	}
	msgs := make([]sdk.Msg, len(jobs))
	resps := make([]gogoproto.Message, len(jobs))
	for k, j := range jobs {
		msgs[k] = &recordstypes.MsgCreateRecords{Author: a.addr, Patient: j.g.patient, Purpose: purpose, Entries: j.g.entries[j.c[0]:j.c[1]]}
		resps[k] = &recordstypes.MsgCreateRecordsResponse{}
	}
	if err := a.sendScaled(ctx, msgs, resps); err != nil {
		return nil, err
	}
	ids := make([]uint64, len(items))
	for k, j := range jobs {
		got := resps[k].(*recordstypes.MsgCreateRecordsResponse).Ids
		if len(got) != j.c[1]-j.c[0] {
			return nil, fmt.Errorf("the chain returned %d record ids for %d records", len(got), j.c[1]-j.c[0])
		}
		for n, id := range got {
			ids[j.g.idx[j.c[0]+n]] = id
		}
	}
	return ids, nil
}

// Amend files raw as the new version of record id (which must be active, of
// the same class) for the record's patient: encrypted under the class's
// current key, uploaded, and committed with MsgAmendRecord. Only the record's
// author or its patient may amend; a provider also needs the patient's write
// consent for the class, which the chain checks again.
func (a *Agent) Amend(ctx context.Context, id uint64, raw []byte, fhirType, purpose, vaultURL string) (uint64, error) {
	old, err := a.Record(ctx, id)
	if err != nil {
		return 0, err
	}
	if old.Patient != a.addr {
		if err := a.MayAccess(ctx, old.Patient, old.DataClass, consenttypes.PermissionWrite, purpose, time.Time{}); err != nil {
			return 0, err
		}
	}
	classKey, kctx, err := a.ClassKey(ctx, old.Patient, old.DataClass, 0)
	if err != nil {
		return 0, err
	}
	entry, err := a.Upload(ctx, bytes.NewReader(raw), int64(len(raw)), old.DataClass, fhirType, old.Patient, vaultURL, classKey, kctx)
	if err != nil {
		return 0, err
	}
	var resp recordstypes.MsgAmendRecordResponse
	if err := a.SendOne(ctx, &recordstypes.MsgAmendRecord{Author: a.addr, RecordId: id, Purpose: purpose, Entry: entry}, &resp); err != nil {
		return 0, err
	}
	return resp.Id, nil
}

// sendScaled sends msgs as one transaction and waits for its commit. Its gas
// is simulated on the first message alone and scaled by size, as the bulk
// import does (a record costs the same gas per entry and per byte in every
// message), so a large transaction is not executed twice on the node.
func (a *Agent) sendScaled(ctx context.Context, msgs []sdk.Msg, resps []gogoproto.Message) error {
	sender, err := a.NewSender(ctx)
	if err != nil {
		return err
	}
	defer sender.Close()
	var gas uint64
	if sender.Simulates() && len(msgs) > 1 {
		base, err := sender.Estimate(msgs[:1])
		if err != nil {
			return err
		}
		gas = max(base, base*uint64(msgsSize(msgs))/uint64(msgsSize(msgs[:1])))
	} else if sender.Simulates() {
		if gas, err = sender.Estimate(msgs); err != nil {
			return err
		}
	}
	sender.Send(ctx, msgs, resps, gas)
	return sender.Wait(ctx, nil)[0]
}
