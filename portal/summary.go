package portal

// The emergency summary: one screen with what an emergency physician needs
// first, in the sections of the International Patient Summary (allergies,
// active medications, active problems, recent vital signs and results,
// immunizations), built from the records the viewer has decrypted — for the
// patient, all her own; for a provider, those it opened (it may open the
// rest of these kinds from here, each read recorded).

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/fhir"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// summaryClasses are the kinds of data the emergency summary draws on.
var summaryClasses = []string{"allergy", "prescription", "diagnosis", "vital-signs", "lab-result", "immunization"}

const (
	// maxResults bounds the recent results and vital signs shown.
	maxResults = 20
	// maxSummaryOpen bounds the records one "open the rest" opens.
	maxSummaryOpen = 500
)

// summarySection is one section of the emergency summary.
type summarySection struct {
	ID    string         `json:"id"`
	Title string         `json:"title"`
	Items []timelineItem `json:"items"`
	// NotOpened counts the records of the section's kinds the viewer has
	// not opened (a provider), which may hold more.
	NotOpened int `json:"not_opened"`
}

// emergencySummary serves GET /api/summary?patient=&purpose=.
func (s *Server) emergencySummary(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	patient, purpose, ok := s.summaryTarget(w, r.URL.Query().Get("patient"), r.URL.Query().Get("purpose"))
	if !ok {
		return
	}
	items, _, err := s.timelineItems(ctx, patient, purpose)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"patient": patient, "purpose": purpose, "sections": summarySections(items)})
}

// openForSummary serves POST /api/summary/open: a provider opens the records
// of the summary's kinds it may read and has not opened yet, each with an
// access receipt for the purpose (the patient sees every one).
func (s *Server) openForSummary(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	var body struct {
		Patient string `json:"patient"`
		Purpose string `json:"purpose"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	patient, purpose, ok := s.summaryTarget(w, body.Patient, body.Purpose)
	if !ok {
		return
	}
	if patient == s.agent.Address() {
		badRequest(w, "Your own summary needs no opening: every record of yours is read without a receipt.")
		return
	}
	recs, err := s.agent.RecordsOf(ctx, patient, maxTimeline)
	if err != nil {
		writeFailure(w, err)
		return
	}
	gen := s.summaries.generation()
	var todo []recordstypes.Record
	for _, rec := range recs {
		if _, cached := s.summaries.get(rec.Id); cached || rec.Status != recordstypes.RECORD_STATUS_ACTIVE ||
			!slices.Contains(summaryClasses, rec.DataClass) || rec.Size_ > maxSummarized {
			continue
		}
		todo = append(todo, rec)
	}
	if len(todo) > maxSummaryOpen {
		todo = todo[:maxSummaryOpen] // newest first
	}
	opened, err := s.agent.ReadAll(ctx, todo, purpose, "", nil)
	if err != nil {
		writeFailure(w, err)
		return
	}
	n, receipts := 0, 0
	var refusal string
	for _, o := range opened {
		if o.Receipt != 0 {
			receipts++
		}
		if o.Err != nil {
			if refusal == "" {
				refusal = classify(o.Err).Message
			}
			continue
		}
		s.summaries.put(gen, o.Record.Id, fhir.Summarize(o.Plain))
		n++
	}
	writeJSON(w, http.StatusOK, map[string]any{"opened": n, "receipts": receipts, "not_opened": len(todo) - n, "refusal": refusal})
}

// summaryTarget checks a summary request's patient (default: me) and purpose.
func (s *Server) summaryTarget(w http.ResponseWriter, patient, purpose string) (string, string, bool) {
	patient = strings.TrimSpace(patient)
	if patient == "" {
		patient = s.agent.Address()
	}
	if !checkAddress(w, "The patient", &patient) {
		return "", "", false
	}
	if purpose == "" {
		purpose = agent.DefaultPurpose
	}
	if err := consenttypes.ValidatePurpose(purpose); err != nil {
		badRequest(w, "Unknown purpose "+strconv.Quote(purpose)+".")
		return "", "", false
	}
	return patient, purpose, true
}

// summarySections sorts the viewer's records (newest first) into the
// sections, the newest of each code once (immunizations: every dose). An item without a known status counts as current: a summary
// that drops an allergy because its author left out clinicalStatus is worse
// than one that shows it.
func summarySections(items []timelineItem) []summarySection {
	secs := []summarySection{
		{ID: "allergies", Title: "Allergies and intolerances"},
		{ID: "medications", Title: "Current medications"},
		{ID: "problems", Title: "Active problems"},
		{ID: "vitals", Title: "Recent vital signs"},
		{ID: "results", Title: "Recent results"},
		{ID: "immunizations", Title: "Immunizations"},
	}
	for i := range secs {
		secs[i].Items = []timelineItem{}
	}
	sectionOfClass := map[string]int{"allergy": 0, "prescription": 1, "diagnosis": 2, "vital-signs": 3, "lab-result": 4, "immunization": 5}
	latest := map[string]bool{} // section|code already shown
	for _, it := range items {
		if it.Status != "active" {
			continue
		}
		i, ok := sectionOfClass[it.Class]
		if it.Summary == nil {
			if ok {
				secs[i].NotOpened++
			}
			continue
		}
		sum := it.Summary
		switch sum.Type {
		case "AllergyIntolerance":
			i, ok = 0, !inactive(sum.Status)
		case "MedicationRequest", "MedicationStatement":
			i, ok = 1, sum.Status == "" || sum.Status == "active" || sum.Status == "on-hold" || sum.Status == "intended"
		case "Condition":
			i, ok = 2, !inactive(sum.Status)
		case "Observation":
			ok = true // whatever class its author filed it under
			switch {
			case sum.Category == "vital-signs" || it.Class == "vital-signs":
				i = 3
			case sum.Category == "laboratory" || it.Class == "lab-result":
				i = 4
			default:
				ok = false
			}
			ok = ok && len(secs[i].Items) < maxResults
		case "Immunization": // every dose counts
			i, ok = 5, sum.Status != "not-done" && sum.Status != "entered-in-error"
		default:
			ok = false
		}
		// the newest of each code (a repeat prescription, a test done again)
		key := sum.Code
		if key == "" {
			key = sum.Title
		}
		key = strconv.Itoa(i) + "|" + key
		if ok && i != 5 {
			ok = !latest[key]
			latest[key] = true
		}
		if ok {
			secs[i].Items = append(secs[i].Items, it)
		}
	}
	return secs
}

// inactive is a clinical status that takes a condition or an allergy off
// the summary.
func inactive(status string) bool {
	switch status {
	case "inactive", "resolved", "remission", "entered-in-error", "refuted":
		return true
	}
	return false
}
