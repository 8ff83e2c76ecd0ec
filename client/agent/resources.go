package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	gogoproto "github.com/cosmos/gogoproto/proto"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/vault"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// NewResource is one FHIR resource to file as a record of Patient.
type NewResource struct {
	Patient string
	Type    string // FHIR resource type
	Class   string // data class
	Raw     json.RawMessage
	// Scope is the scope within which filing the same resource again is a
	// retry (crypto.Source.Scope): a Bundle's hash, an idempotency key.
	Scope [32]byte
}

// Created is one resource CreateAll filed: its record, and whether it was
// filed before (a retried request; nothing was committed for it now).
type Created struct {
	ID           uint64
	AlreadyFiled bool
}

// CreateAll files every resource as one encrypted record, all or nothing: the
// write consents and class keys of every (patient, class) are checked first,
// every resource is encrypted and uploaded, and then all the records are
// committed by one transaction (one MsgCreateRecords per patient and
// max_batch_size resources), which the chain applies whole or not at all.
// It returns the records in the order of items. When it fails, no record
// exists; the uploads are orphans the vault deletes after its TTL.
//
// As ImportBundle, it files a resource once per scope: one this account filed
// for the patient before (the same bytes, scope and occurrence among items)
// is returned with AlreadyFiled, so a retried request files nothing twice.
func (a *Agent) CreateAll(ctx context.Context, items []NewResource, purpose, vaultURL string) ([]Created, error) {
	host, maxBatch, err := a.uploadTarget(ctx, vaultURL)
	if err != nil {
		return nil, err
	}
	// group by patient and scope, keeping the order within each
	type group struct {
		*filing
		idx    []int // the items of the group
		chunks [][2]int
	}
	type key struct {
		patient string
		scope   [32]byte
	}
	var groups []*group
	byKey := map[key]*group{}
	for i, it := range items {
		k := key{it.Patient, it.Scope}
		g, ok := byKey[k]
		if !ok {
			g = &group{}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
	}
	for _, g := range groups {
		var resources []json.RawMessage
		var types, classes []string
		for _, i := range g.idx {
			resources, types, classes = append(resources, items[i].Raw), append(types, items[i].Type), append(classes, items[i].Class)
		}
		g.filing = newFiling(items[g.idx[0]].Patient, items[g.idx[0]].Scope, resources, types, classes)
		if err := a.filingKeys(ctx, g.filing, purpose); err != nil {
			return nil, err
		}
		g.chunks = uploadChunks(resources, maxBatch)
	}
	if err := a.settle(ctx); err != nil {
		return nil, err
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
		return a.uploadChunk(ctx, jobs[k].g.filing, jobs[k].c, vaultURL, host)
	}); err != nil {
		return nil, err
	}
	out := make([]Created, len(items))
	var msgs []sdk.Msg
	var resps []gogoproto.Message
	var sentIdx [][]int // the items each message commits
	for _, j := range jobs {
		fresh, entries := j.g.fresh(j.c)
		for i := j.c[0]; i < j.c[1]; i++ {
			if r := j.g.filed[i]; r != nil {
				out[j.g.idx[i]] = Created{ID: r.Id, AlreadyFiled: true}
			}
		}
		if len(fresh) == 0 {
			continue
		}
		idx := make([]int, len(fresh))
		for n, i := range fresh {
			idx[n] = j.g.idx[i]
		}
		msgs = append(msgs, &recordstypes.MsgCreateRecords{Author: a.addr, Patient: j.g.patient, Purpose: purpose, Entries: entries})
		resps = append(resps, &recordstypes.MsgCreateRecordsResponse{})
		sentIdx = append(sentIdx, idx)
	}
	if len(msgs) == 0 {
		return out, nil
	}
	if err := a.sendScaled(ctx, msgs, resps); err != nil {
		// A copy of this request (a retry sent while this one was still
		// committing) may have filed the same resources first: the chain then
		// refuses these hashes. If every one is on chain now, filed by this
		// account for its patient, the request is done.
		if a.filedMeanwhile(ctx, msgs, sentIdx, out) {
			return out, nil
		}
		// the copy may still be in the mempool: look again after its block
		w := a.watchBlocks(ctx)
		defer w.close()
		for range 2 {
			select {
			case <-w.events:
			case <-time.After(stallCheck):
			case <-ctx.Done():
				return nil, err
			}
			if a.filedMeanwhile(ctx, msgs, sentIdx, out) {
				return out, nil
			}
		}
		return nil, err
	}
	for k, idx := range sentIdx {
		got := resps[k].(*recordstypes.MsgCreateRecordsResponse).Ids
		if len(got) != len(idx) {
			return nil, fmt.Errorf("the chain returned %d record ids for %d records", len(got), len(idx))
		}
		for n, id := range got {
			out[idx[n]] = Created{ID: id}
		}
	}
	return out, nil
}

// filedMeanwhile reports whether every entry of msgs is on chain, filed by
// this account for its patient, and if so fills in out (sentIdx[k] are the
// items of msgs[k]) with those records as AlreadyFiled.
func (a *Agent) filedMeanwhile(ctx context.Context, msgs []sdk.Msg, sentIdx [][]int, out []Created) bool {
	found := make([]Created, len(out))
	for k, m := range msgs {
		msg := m.(*recordstypes.MsgCreateRecords)
		hashes := make([]vault.Hash, len(msg.Entries))
		for j, e := range msg.Entries {
			copy(hashes[j][:], e.ContentHash)
		}
		filed, _, err := a.filedBefore(ctx, hashes, msg.Patient)
		if err != nil {
			return false
		}
		for j, r := range filed {
			if r == nil {
				return false
			}
			found[sentIdx[k][j]] = Created{ID: r.Id, AlreadyFiled: true}
		}
	}
	for _, idx := range sentIdx {
		for _, i := range idx {
			out[i] = found[i]
		}
	}
	return true
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
