package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/client/paging"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// Code systems and extensions of the resources made from chain state.
const (
	AccountSystem   = "urn:healthd:account"    // a chain address, as an identifier
	DataClassSystem = "urn:healthd:data-class" // healthd's data classes
	ActReason       = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	ActCode         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	HeightExtension = "https://healthd.dev/fhir/StructureDefinition/block-height"
	TxExtension     = "https://healthd.dev/fhir/StructureDefinition/transaction"
)

// name is a provider's registry name (cached), or "" for an account that is
// not a provider (a patient).
func (s *Server) name(ctx context.Context, addr string) string {
	if n, ok := s.names.Load(addr); ok {
		return n.(string)
	}
	resp, err := s.agent.Provider(ctx, addr)
	if err != nil {
		return ""
	}
	n := resp.Provider.Name
	s.names.Store(addr, n)
	return n
}

// accountRef is a Reference to a chain account by identifier, with its
// registry name as display. A patient is referenced as Patient/MRN when this
// server knows the MRN, and by nothing else (an address is pseudonymous, but
// it is not this server's to reveal).
func (s *Server) accountRef(ctx context.Context, addr string) map[string]any {
	if mrn, ok := s.opts.Patients.MRN(addr); ok {
		return map[string]any{"reference": "Patient/" + mrn}
	}
	ref := map[string]any{"identifier": map[string]any{"system": AccountSystem, "value": addr}}
	if n := s.name(ctx, addr); n != "" {
		ref["display"] = n
	}
	return ref
}

func fhirTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func coding(system, code string) map[string]any {
	return map[string]any{"system": system, "code": code}
}

func concept(system, code string) map[string]any {
	return map[string]any{"coding": []any{coding(system, code)}}
}

// searchset writes a searchset of resources made from chain state.
func (s *Server) searchset(w http.ResponseWriter, q *request, typ string, resources []map[string]any) {
	b := newBundle("searchset")
	total := len(resources)
	b.Total = &total
	b.Link = []link{{"self", s.opts.BaseURL + q.r.URL.RequestURI()}}
	for _, r := range resources {
		raw, err := json.Marshal(r)
		if err != nil {
			failure(w, err)
			return
		}
		b.Entry = append(b.Entry, bundleEntry{
			FullURL: fmt.Sprintf("%s/%s/%s", s.opts.BaseURL, typ, r["id"]), Resource: raw, Search: &entrySearch{Mode: "match"},
		})
	}
	writeResource(w, http.StatusOK, b)
}

// onlyParams refuses parameters other than the allowed ones.
func onlyParams(w http.ResponseWriter, q *request, allowedParams ...string) bool {
	for k := range q.r.URL.Query() {
		if !searchControl[k] && !contains(allowedParams, k) {
			writeOutcome(w, http.StatusBadRequest, Issue{
				Severity: "error", Code: "not-supported", Expression: []string{k},
				Diagnostics: fmt.Sprintf("search parameter %q is not supported here (supported: %s)", k, strings.Join(allowedParams, ", ")),
			})
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// consentActions maps healthd permissions to FHIR consent actions.
var consentActions = map[string]string{"read": "access", "write": "correct"}

// searchConsents is GET /Consent?patient=MRN: the chain's consents of the
// patient as R4 Consent resources. Reading consents takes no receipt: they
// are chain metadata every member can query.
func (s *Server) searchConsents(w http.ResponseWriter, q *request) {
	if !allowed(w, q, "Consent", 's') || !onlyParams(w, q, "patient") {
		return
	}
	_, addr, ok := s.patientParam(w, q.r.URL.Query().Get("patient"))
	if !ok {
		return
	}
	ctx := q.r.Context()
	cq := consenttypes.NewQueryClient(s.agent.ClientContext())
	consents, err := paging.Collect(0, query.PageRequest{Limit: 500}, func(req *query.PageRequest) ([]consenttypes.Consent, *query.PageResponse, error) {
		resp, err := cq.ConsentsByPatient(ctx, &consenttypes.QueryConsentsByPatientRequest{Patient: addr, Pagination: req})
		if err != nil {
			return nil, nil, err
		}
		return resp.Consents, resp.Pagination, nil
	})
	if err != nil {
		failure(w, err)
		return
	}
	now := time.Now()
	out := make([]map[string]any, 0, len(consents))
	for _, c := range consents {
		out = append(out, s.consentResource(ctx, c, now))
	}
	s.searchset(w, q, "Consent", out)
}

// consentResource maps one consent: scope patient-privacy, category LOINC
// 59284-0 (patient consent), the grantee as the provision's actor (role
// IRCP, information recipient), the permissions as actions, purposes,
// period, data period and data classes. Status: active while live, proposed
// before its start, inactive once revoked or expired. An emergency
// (break-glass) access is a consent the provider took: category and purpose
// ETREAT, security label BTG.
func (s *Server) consentResource(ctx context.Context, c consenttypes.Consent, now time.Time) map[string]any {
	st := "active"
	switch {
	case c.Status == consenttypes.CONSENT_STATUS_REVOKED, c.Status == consenttypes.CONSENT_STATUS_EXPIRED, !now.Before(c.Period.End):
		st = "inactive"
	case now.Before(c.Period.Start):
		st = "proposed"
	}
	var actions, purposes, classes []any
	for _, p := range c.Permissions {
		if a, ok := consentActions[p]; ok {
			actions = append(actions, concept("http://terminology.hl7.org/CodeSystem/consentaction", a))
		}
	}
	for _, p := range c.Purposes {
		purposes = append(purposes, coding(ActReason, p))
	}
	for _, dc := range c.DataClasses {
		classes = append(classes, coding(DataClassSystem, dc))
	}
	provision := map[string]any{
		"type":   "permit",
		"period": map[string]any{"start": fhirTime(c.Period.Start), "end": fhirTime(c.Period.End)},
		"actor": []any{map[string]any{
			"role":      concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"),
			"reference": s.accountRef(ctx, c.Grantee),
		}},
	}
	if len(actions) > 0 {
		provision["action"] = actions
	}
	if len(purposes) > 0 {
		provision["purpose"] = purposes
	}
	if len(classes) > 0 {
		provision["class"] = classes
	}
	if c.DataPeriod != nil {
		provision["dataPeriod"] = map[string]any{"start": fhirTime(c.DataPeriod.Start), "end": fhirTime(c.DataPeriod.End)}
	}
	categories := []any{map[string]any{"coding": []any{coding("http://loinc.org", "59284-0")}}}
	res := map[string]any{
		"resourceType": "Consent", "id": strconv.FormatUint(c.Id, 10), "status": st,
		"scope":      concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
		"patient":    s.accountRef(ctx, c.Patient),
		"dateTime":   fhirTime(c.CreatedAt),
		"policyRule": concept(ActCode, "OPTIN"),
		"provision":  provision,
	}
	if c.Emergency {
		categories = append(categories, concept(ActReason, "ETREAT"))
		res["meta"] = map[string]any{"security": []any{coding(ActCode, "BTG")}}
		res["policyRule"] = concept(ActCode, "EMRGONLY")
	} else {
		res["performer"] = []any{s.accountRef(ctx, c.Patient)}
	}
	res["category"] = categories
	return res
}

// searchAuditEvents is GET /AuditEvent?patient=MRN: the patient's accounting
// of disclosures, every access receipt as an AuditEvent following IHE Basic
// Audit Log Patterns (the Read pattern: type rest, subtype read, action R),
// with the purpose of use; an emergency read is marked by purposeOfEvent
// ETREAT and the security label BTG. The custodians' releases of emergency
// key shares follow, one AuditEvent each.
func (s *Server) searchAuditEvents(w http.ResponseWriter, q *request) {
	if !allowed(w, q, "AuditEvent", 's') || !onlyParams(w, q, "patient") {
		return
	}
	mrn, addr, ok := s.patientParam(w, q.r.URL.Query().Get("patient"))
	if !ok {
		return
	}
	ctx := q.r.Context()
	rq := recordstypes.NewQueryClient(s.agent.ClientContext())
	receipts, err := paging.Collect(0, query.PageRequest{Limit: 1000}, func(req *query.PageRequest) ([]recordstypes.AccessReceipt, *query.PageResponse, error) {
		resp, err := rq.ReceiptsByPatient(ctx, &recordstypes.QueryReceiptsByPatientRequest{Patient: addr, Pagination: req})
		if err != nil {
			return nil, nil, err
		}
		return resp.Receipts, resp.Pagination, nil
	})
	if err != nil {
		failure(w, err)
		return
	}
	types := map[uint64]string{}
	out := make([]map[string]any, 0, len(receipts))
	for _, rc := range receipts {
		t, ok := types[rc.RecordId]
		if !ok {
			if rec, err := s.agent.Record(ctx, rc.RecordId); err == nil {
				t = rec.FhirResourceType
			}
			types[rc.RecordId] = t
		}
		out = append(out, s.receiptEvent(ctx, rc, mrn, t))
	}
	releases, err := s.keyReleases(ctx, addr)
	if err != nil {
		failure(w, err)
		return
	}
	for _, r := range releases {
		out = append(out, s.releaseEvent(ctx, r, mrn))
	}
	s.searchset(w, q, "AuditEvent", out)
}

// balpSource is the audit source: the chain, which recorded the event.
func (s *Server) balpSource() map[string]any {
	return map[string]any{
		"site":     s.opts.BaseURL,
		"observer": map[string]any{"display": "healthd chain (" + s.chainID + ")"},
		"type":     []any{coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4")},
	}
}

func patientEntity(mrn string) map[string]any {
	return map[string]any{
		"what": map[string]any{"reference": "Patient/" + mrn},
		"type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1"),
		"role": coding("http://terminology.hl7.org/CodeSystem/object-role", "1"),
	}
}

// receiptEvent is one access receipt as a BALP Read AuditEvent.
func (s *Server) receiptEvent(ctx context.Context, rc recordstypes.AccessReceipt, mrn, typ string) map[string]any {
	purposes := []any{concept(ActReason, rc.Purpose)}
	ev := map[string]any{
		"resourceType": "AuditEvent", "id": "receipt-" + strconv.FormatUint(rc.Id, 10),
		"type":     coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest"),
		"subtype":  []any{coding("http://hl7.org/fhir/restful-interaction", "read")},
		"action":   "R",
		"recorded": fhirTime(rc.Time),
		"outcome":  "0",
		"agent": []any{map[string]any{
			"type":      concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"),
			"who":       s.accountRef(ctx, rc.Accessor),
			"requestor": true,
		}},
		"source": s.balpSource(),
		"entity": []any{patientEntity(mrn), map[string]any{
			"what": map[string]any{"reference": fmt.Sprintf("%s/%d", typeOr(typ), rc.RecordId)},
			"type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2"),
			"role": coding("http://terminology.hl7.org/CodeSystem/object-role", "4"),
		}},
		"extension": []any{map[string]any{"url": HeightExtension, "valueString": strconv.FormatInt(rc.Height, 10)}},
	}
	if rc.Emergency {
		if rc.Purpose != "ETREAT" {
			purposes = append(purposes, concept(ActReason, "ETREAT"))
		}
		ev["meta"] = map[string]any{"security": []any{coding(ActCode, "BTG")}}
	}
	ev["purposeOfEvent"] = purposes
	return ev
}

func typeOr(t string) string {
	if t == "" {
		return "Basic"
	}
	return t
}

// keyReleases lists the custodians' releases of the patient's emergency key
// shares.
func (s *Server) keyReleases(ctx context.Context, patient string) ([]consenttypes.KeyRelease, error) {
	cq := consenttypes.NewQueryClient(s.agent.ClientContext())
	return paging.Collect(0, query.PageRequest{Limit: 500}, func(req *query.PageRequest) ([]consenttypes.KeyRelease, *query.PageResponse, error) {
		resp, err := cq.KeyReleases(ctx, &consenttypes.QueryKeyReleasesRequest{Patient: patient, Pagination: req})
		if err != nil {
			return nil, nil, err
		}
		return resp.Releases, resp.Pagination, nil
	})
}

// releaseEvent is a custodian's release of key shares as an AuditEvent: the
// custodian is the requestor, the provider of the emergency access the
// recipient, purpose ETREAT, security label BTG.
func (s *Server) releaseEvent(ctx context.Context, r consenttypes.KeyRelease, mrn string) map[string]any {
	return map[string]any{
		"resourceType": "AuditEvent", "id": fmt.Sprintf("key-release-%d-%s", r.AccessId, shortAddr(r.Custodian)),
		"meta":           map[string]any{"security": []any{coding(ActCode, "BTG")}},
		"type":           coding("http://dicom.nema.org/resources/ontology/DCM", "110113"),
		"subtype":        []any{map[string]any{"system": "https://healthd.dev/fhir/CodeSystem/audit-event", "code": "key-release", "display": "Emergency key shares released"}},
		"action":         "E",
		"recorded":       fhirTime(r.ReleasedAt),
		"outcome":        "0",
		"purposeOfEvent": []any{concept(ActReason, "ETREAT")},
		"agent": []any{
			map[string]any{"type": concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "CST"), "who": s.accountRef(ctx, r.Custodian), "requestor": true},
			map[string]any{"type": concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"), "who": s.accountRef(ctx, r.Provider), "requestor": false},
		},
		"source": s.balpSource(),
		"entity": []any{patientEntity(mrn), map[string]any{
			"what": map[string]any{"reference": "Consent/" + strconv.FormatUint(r.AccessId, 10)},
			"type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2"),
			"role": coding("http://terminology.hl7.org/CodeSystem/object-role", "4"),
		}},
	}
}

func shortAddr(a string) string {
	if len(a) > 12 {
		return a[len(a)-12:]
	}
	return a
}

// searchProvenance is GET /Provenance?target=Type/id: one Provenance per
// version of the resource: who wrote it (the record's author), when (block
// time), at which block height and in which transaction, and the version it
// revised.
func (s *Server) searchProvenance(w http.ResponseWriter, q *request) {
	if !allowed(w, q, "Provenance", 's') || !onlyParams(w, q, "target") {
		return
	}
	target := q.r.URL.Query().Get("target")
	typ, id, ok := strings.Cut(strings.TrimPrefix(target, s.opts.BaseURL+"/"), "/")
	if !ok || !knownType(typ) {
		writeOutcome(w, http.StatusBadRequest, Issue{
			Severity: "error", Code: "required", Expression: []string{"target"},
			Diagnostics: "name the resource: ?target=Observation/123",
		})
		return
	}
	id, _, _ = strings.Cut(id, "/")
	vs, ok := s.lookup(w, q.r, typ, id)
	if !ok {
		return
	}
	ctx := q.r.Context()
	out := make([]map[string]any, 0, len(vs))
	for _, v := range vs {
		activity := "CREATE"
		if v.n > 1 {
			activity = "UPDATE"
		}
		p := map[string]any{
			"resourceType": "Provenance", "id": fmt.Sprintf("%s-%d-%d", strings.ToLower(typ), v.origin, v.n),
			"target":   []any{map[string]any{"reference": fmt.Sprintf("%s/%d/_history/%d", typ, v.origin, v.n)}},
			"recorded": fhirTime(v.rec.CreatedAt),
			"activity": concept("http://terminology.hl7.org/CodeSystem/v3-DataOperation", activity),
			"agent": []any{map[string]any{
				"type": concept("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author"),
				"who":  s.accountRef(ctx, v.rec.Author),
			}},
			"extension": s.chainPlace(ctx, v.rec),
		}
		if v.n > 1 {
			p["entity"] = []any{map[string]any{
				"role": "revision",
				"what": map[string]any{"reference": fmt.Sprintf("%s/%d/_history/%d", typ, v.origin, v.n-1)},
			}}
		}
		out = append(out, p)
	}
	s.searchset(w, q, "Provenance", out)
}

// chainPlace is the block height of a record and, when the node indexes
// transactions, the hash of the transaction that committed it.
func (s *Server) chainPlace(ctx context.Context, rec recordstypes.Record) []any {
	out := []any{map[string]any{"url": HeightExtension, "valueString": strconv.FormatInt(rec.Height, 10)}}
	node, err := s.agent.ClientContext().GetNode()
	if err != nil {
		return out
	}
	event := "healthd.records.v1.EventRecordCreated"
	if rec.Supersedes != 0 {
		event = "healthd.records.v1.EventRecordAmended"
	}
	q := fmt.Sprintf(`tx.height=%d AND %s.id='"%d"'`, rec.Height, event, rec.Id)
	res, err := node.TxSearch(ctx, q, false, nil, nil, "")
	if err != nil || len(res.Txs) == 0 {
		return out
	}
	return append(out, map[string]any{"url": TxExtension, "valueString": strings.ToUpper(res.Txs[0].Hash.String())})
}
