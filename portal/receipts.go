package portal

// Receipts: the accounting of disclosures.

import (
	"net/http"

	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/client/paging"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// listReceipts is who read what of mine, and when, newest first.
func (s *Server) listReceipts(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	me := s.agent.Address()
	rq := recordstypes.NewQueryClient(s.clientCtx())
	cq := consenttypes.NewQueryClient(s.clientCtx())
	out := []receiptView{}
	classes := map[uint64]string{}
	emergencies := map[uint64]consenttypes.Consent{}
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := rq.ReceiptsByPatient(ctx, &recordstypes.QueryReceiptsByPatientRequest{
			Patient: me, Pagination: &query.PageRequest{Key: key, Limit: 100, Reverse: true},
		})
		if err != nil {
			return nil, false, err
		}
		for _, rc := range resp.Receipts {
			v := receiptView{
				ID: rc.Id, RecordID: rc.RecordId, Accessor: s.party(ctx, rc.Accessor), Purpose: rc.Purpose,
				ConsentID: rc.ConsentId, Emergency: rc.Emergency, Time: rc.Time,
			}
			if c, ok := classes[rc.RecordId]; ok {
				v.Class = c
			} else if rr, err := rq.Record(ctx, &recordstypes.QueryRecordRequest{Id: rc.RecordId}); err == nil {
				v.Class, classes[rc.RecordId] = rr.Record.DataClass, rr.Record.DataClass
			}
			if rc.Emergency && rc.ConsentId != 0 {
				c, ok := emergencies[rc.ConsentId]
				if !ok {
					if cr, err := cq.Consent(ctx, &consenttypes.QueryConsentRequest{Id: rc.ConsentId}); err == nil {
						c, emergencies[rc.ConsentId] = cr.Consent, cr.Consent
					}
				}
				v.Review = enumName(c.Review.String(), "REVIEW_STATE_")
				v.Note = c.EmergencyNote
			}
			out = append(out, v)
		}
		return resp.Pagination, len(out) >= maxListed, nil
	})
	if err != nil && !notFoundOrEmpty(err) {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"receipts": out})
}
