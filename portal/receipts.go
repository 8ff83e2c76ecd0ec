package portal

// Receipts: the accounting of disclosures.

import (
	"errors"
	"net/http"

	"github.com/healthd-chain/healthd/client/agent"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// listReceipts is who read what of mine, and when, newest first.
func (s *Server) listReceipts(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	receipts, err := s.agent.ReceiptsOf(ctx, s.agent.Address(), maxListed)
	if err != nil && !notFoundOrEmpty(err) {
		writeFailure(w, err)
		return
	}
	out := []receiptView{}
	classes := map[uint64]string{}
	emergencies := map[uint64]consenttypes.Consent{}
	for _, rc := range receipts {
		v := receiptView{
			ID: rc.Id, RecordID: rc.RecordId, Accessor: s.party(ctx, rc.Accessor), Purpose: rc.Purpose,
			ConsentID: rc.ConsentId, Emergency: rc.Emergency, Time: rc.Time,
		}
		if c, ok := classes[rc.RecordId]; ok {
			v.Class = c
		} else if rec, err := s.agent.Record(ctx, rc.RecordId); err == nil || errors.Is(err, agent.ErrErased) {
			v.Class, classes[rc.RecordId] = rec.DataClass, rec.DataClass
		}
		if rc.Emergency && rc.ConsentId != 0 {
			c, ok := emergencies[rc.ConsentId]
			if !ok {
				if c, err = s.agent.Consent(ctx, rc.ConsentId); err == nil {
					emergencies[rc.ConsentId] = c
				}
			}
			v.Review = enumName(c.Review.String(), "REVIEW_STATE_")
			v.Note = c.EmergencyNote
		}
		out = append(out, v)
	}
	releases := []releaseView{}
	rels, err := s.agent.Releases(ctx, s.agent.Address(), 0)
	if err != nil && !notFoundOrEmpty(err) {
		writeFailure(w, err)
		return
	}
	for _, r := range rels {
		v := releaseView{AccessID: r.AccessId, Custodian: s.party(ctx, r.Custodian), Provider: s.party(ctx, r.Provider), Time: r.ReleasedAt}
		for _, c := range r.Classes {
			v.Classes = append(v.Classes, c.DataClass)
		}
		releases = append(releases, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"receipts": out, "key_releases": releases})
}
