package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/chaincfg"
	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/client/paging"
	"github.com/healthd-chain/healthd/fhir"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// addresses checks bech32 account addresses of this chain.
var addresses = addresscodec.NewBech32Codec(chaincfg.Bech32Prefix)

func validAddress(s string) bool {
	_, err := addresses.StringToBytes(s)
	return err == nil && s != ""
}

// checkAddress trims *addr and answers 400 unless it is an account address of
// this chain; who names the field in the message ("The patient").
func checkAddress(w http.ResponseWriter, who string, addr *string) bool {
	*addr = strings.TrimSpace(*addr)
	if validAddress(*addr) {
		return true
	}
	badRequest(w, who+" is not a healthd address (it starts with health1…).")
	return false
}

// checkDays answers 400 unless days is between 1 and 3650; what names the
// thing that lasts ("The consent").
func checkDays(w http.ResponseWriter, what string, days int) bool {
	if days >= 1 && days <= 3650 {
		return true
	}
	badRequest(w, what+" must last between 1 day and 10 years.")
	return false
}

// maxListed bounds every list the portal shows (records, consents, receipts).
const maxListed = 500

// maxRead bounds a record the portal decrypts: it holds the plaintext in
// memory (never on disk) until every byte has been checked.
const maxRead = 256 << 20

// requestTimeout bounds one API call, transactions included.
const requestTimeout = 2 * time.Minute

func (s *Server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), requestTimeout)
}

func (s *Server) clientCtx() client.Context { return s.agent.ClientContext() }

// nameCache maps provider addresses to their registry entry.
type nameCache struct {
	clientCtx client.Context
	mu        sync.Mutex
	entries   map[string]nameEntry
}

type nameEntry struct {
	name, kind string
	at         time.Time
}

func newNameCache(c client.Context) *nameCache {
	return &nameCache{clientCtx: c, entries: map[string]nameEntry{}}
}

// name returns the registry name and kind of addr ("" if it is not a
// provider).
func (c *nameCache) name(ctx context.Context, addr string) (string, string) {
	c.mu.Lock()
	e, ok := c.entries[addr]
	c.mu.Unlock()
	if ok && time.Since(e.at) < 5*time.Minute {
		return e.name, e.kind
	}
	e = nameEntry{at: time.Now()}
	if pr, err := providerstypes.NewQueryClient(c.clientCtx).Provider(ctx, &providerstypes.QueryProviderRequest{Address: addr}); err == nil {
		e.name, e.kind = pr.Provider.Name, kindName(pr.Provider.Kind)
	}
	c.mu.Lock()
	c.entries[addr] = e
	c.mu.Unlock()
	return e.name, e.kind
}

func kindName(k providerstypes.ProviderKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "PROVIDER_KIND_"))
}

func enumName(s, prefix string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(s, prefix), "_", "-"))
}

// party is an account as the page shows it.
type party struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

func (s *Server) party(ctx context.Context, addr string) party {
	p := party{Address: addr}
	if addr == s.agent.Address() {
		p.Name = "you"
		return p
	}
	p.Name, p.Kind = s.names.name(ctx, addr)
	return p
}

type providerView struct {
	Address             string    `json:"address"`
	Name                string    `json:"name"`
	Kind                string    `json:"kind"`
	Jurisdiction        string    `json:"jurisdiction"`
	Status              string    `json:"status"`
	StatusReason        string    `json:"status_reason,omitempty"`
	CredentialExpiresAt time.Time `json:"credential_expires_at"`
	CredentialExpired   bool      `json:"credential_expired"`
	VaultEndpoint       string    `json:"vault_endpoint,omitempty"`
}

// viewProvider shows a registry entry as the chain answered it: an active
// provider the chain calls inactive is one whose credential has expired (the
// chain's rule, at its latest block time, not this machine's clock).
func viewProvider(pr *providerstypes.QueryProviderResponse) providerView {
	p := pr.Provider
	v := providerView{
		Address: p.Address, Name: p.Name, Kind: kindName(p.Kind), Jurisdiction: p.Jurisdiction,
		Status: enumName(p.Status.String(), "PROVIDER_STATUS_"), CredentialExpiresAt: p.CredentialExpiresAt,
		CredentialExpired: p.Status == providerstypes.PROVIDER_STATUS_ACTIVE && !pr.IsActive,
		VaultEndpoint:     p.VaultEndpoint,
	}
	if p.StatusReason != providerstypes.STATUS_REASON_UNSPECIFIED {
		v.StatusReason = enumName(p.StatusReason.String(), "STATUS_REASON_")
	}
	return v
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	me := s.agent.Address()
	out := map[string]any{
		"address": me, "key_name": s.agent.KeyName(), "chain_id": s.clientCtx().ChainID, "vault_url": s.opts.VaultURL,
		"data_classes": consenttypes.DataClasses, "purposes": consenttypes.Purposes, "permissions": consenttypes.Permissions,
	}
	var reasons []string
	for i := int32(1); ; i++ {
		name, ok := consenttypes.EmergencyReason_name[i]
		if !ok {
			break
		}
		reasons = append(reasons, enumName(name, "EMERGENCY_REASON_"))
	}
	out["emergency_reasons"] = reasons

	pt, err := consenttypes.NewQueryClient(s.clientCtx()).Patient(ctx, &consenttypes.QueryPatientRequest{Address: me})
	switch {
	case err == nil:
		var delegates []map[string]any
		for _, d := range pt.Patient.Delegates {
			delegates = append(delegates, map[string]any{"delegate": s.party(ctx, d.Address), "expires_at": d.ExpiresAt})
		}
		out["patient"] = map[string]any{"registered_at": pt.Patient.RegisteredAt, "delegates": delegates}
	case chainUnreachable(err):
		writeFailure(w, err)
		return
	}
	if pr, err := providerstypes.NewQueryClient(s.clientCtx()).Provider(ctx, &providerstypes.QueryProviderRequest{Address: me}); err == nil {
		out["provider"] = viewProvider(pr)
	}
	if p, err := consenttypes.NewQueryClient(s.clientCtx()).Params(ctx, &consenttypes.QueryParamsRequest{}); err == nil {
		out["max_emergency_minutes"] = int(p.Params.MaxEmergencyDuration.Minutes())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) provider(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	pr, err := providerstypes.NewQueryClient(s.clientCtx()).Provider(ctx, &providerstypes.QueryProviderRequest{Address: r.PathValue("addr")})
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, viewProvider(pr))
}

type recordView struct {
	ID        uint64    `json:"id"`
	Class     string    `json:"data_class"`
	FHIRType  string    `json:"fhir_type"`
	Author    party     `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	Status    string    `json:"status"`
	Size      uint64    `json:"size"`
	// Readable and Refusal are set when the viewer is not the patient: may
	// the viewer read this record now (for the query's purpose)?
	Readable *bool  `json:"readable,omitempty"`
	Refusal  string `json:"refusal,omitempty"`
}

// listRecords lists a patient's records (default: mine), newest first. For a
// provider looking at a patient, each record says whether it may be read now.
func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	me := s.agent.Address()
	patient := strings.TrimSpace(r.URL.Query().Get("patient"))
	if patient == "" {
		patient = me
	}
	if !checkAddress(w, "The patient", &patient) {
		return
	}
	purpose := r.URL.Query().Get("purpose")
	if purpose == "" {
		purpose = agent.DefaultPurpose
	}
	if _, err := consenttypes.NewQueryClient(s.clientCtx()).Patient(ctx, &consenttypes.QueryPatientRequest{Address: patient}); err != nil {
		if chainUnreachable(err) {
			writeFailure(w, err)
			return
		}
		writeError(w, http.StatusNotFound, "not_a_patient", "No patient is registered at this address.")
		return
	}
	rq := recordstypes.NewQueryClient(s.clientCtx())
	var recs []recordstypes.Record
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := rq.RecordsByPatient(ctx, &recordstypes.QueryRecordsByPatientRequest{
			Patient: patient, Pagination: &query.PageRequest{Key: key, Limit: 100, Reverse: true},
		})
		if err != nil {
			return nil, false, err
		}
		recs = append(recs, resp.Records...)
		return resp.Pagination, len(recs) >= maxListed, nil
	})
	if err != nil {
		writeFailure(w, err)
		return
	}
	// For a viewer other than the patient, the chain's decision for each
	// record (ReadDecisions: one query per 256 records).
	var refusals []error
	if patient != me {
		if refusals, err = s.agent.ReadRefusals(ctx, recs, purpose); err != nil {
			writeFailure(w, err)
			return
		}
	}
	out := make([]recordView, 0, len(recs))
	for i, rec := range recs {
		v := recordView{
			ID: rec.Id, Class: rec.DataClass, FHIRType: rec.FhirResourceType, Author: s.party(ctx, rec.Author),
			CreatedAt: rec.CreatedAt, Status: enumName(rec.Status.String(), "RECORD_STATUS_"), Size: rec.Size_,
		}
		if patient != me && rec.Status != recordstypes.RECORD_STATUS_ERASED {
			ok := refusals[i] == nil
			v.Readable = &ok
			if !ok {
				v.Refusal = classify(refusals[i]).Message
			}
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"patient": patient, "records": out, "truncated": len(recs) >= maxListed})
}

// fileRecord files one record: a file, or every resource of a FHIR Bundle.
// The multipart fields come before the file, which is streamed into the
// encryption: no plaintext is written to disk.
func (s *Server) fileRecord(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxUpload+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		badRequest(w, "Send the record as a multipart form.")
		return
	}
	fields := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			badRequest(w, "No file was sent.")
			return
		}
		if err != nil {
			badRequest(w, "The upload was cut short: "+err.Error())
			return
		}
		if part.FormName() != "file" {
			b, err := io.ReadAll(io.LimitReader(part, 4096))
			if err != nil {
				badRequest(w, "The upload was cut short.")
				return
			}
			fields[part.FormName()] = strings.TrimSpace(string(b))
			continue
		}
		s.fileFrom(ctx, w, part, fields)
		return
	}
}

func (s *Server) fileFrom(ctx context.Context, w http.ResponseWriter, file io.Reader, fields map[string]string) {
	patient := fields["patient"]
	if patient == "" {
		patient = s.agent.Address()
	}
	if !checkAddress(w, "The patient", &patient) {
		return
	}
	purpose := fields["purpose"]
	if purpose == "" {
		purpose = agent.DefaultPurpose
	}
	if err := consenttypes.ValidatePurpose(purpose); err != nil {
		badRequest(w, "Unknown purpose "+strconv.Quote(purpose)+".")
		return
	}
	if fields["kind"] == "bundle" {
		raw, err := io.ReadAll(io.LimitReader(file, s.opts.MaxUpload+1))
		if err != nil {
			badRequest(w, "The upload was cut short.")
			return
		}
		if int64(len(raw)) > s.opts.MaxUpload {
			badRequest(w, fmt.Sprintf("The Bundle is larger than the portal's limit of %d MiB.", s.opts.MaxUpload>>20))
			return
		}
		if _, _, _, err := fhir.ParseBundle(raw); err != nil {
			writeError(w, http.StatusBadRequest, "bad_bundle", "This is not a FHIR R4 Bundle the portal can import: "+err.Error())
			return
		}
		done, err := s.agent.ImportBundle(ctx, raw, patient, purpose, s.opts.VaultURL, nil)
		if err != nil {
			e := classify(err)
			writeJSON(w, http.StatusBadGateway, map[string]any{"code": e.Code, "error": e.Message, "detail": e.Detail, "committed": done})
			return
		}
		ids := make([]uint64, len(done))
		for i, d := range done {
			ids[i] = d.RecordID
		}
		writeJSON(w, http.StatusOK, map[string]any{"record_ids": ids, "imported": done})
		return
	}
	class := fields["data_class"]
	if err := consenttypes.ValidateDataClass(class); err != nil {
		badRequest(w, "Choose a kind of data (data class).")
		return
	}
	fhirType := fields["fhir_type"]
	if fhirType == "" {
		fhirType = "DocumentReference"
	}
	var size int64 // only for the progress count; unknown is fine
	if v := fields["size"]; v != "" {
		var err error
		if size, err = strconv.ParseInt(v, 10, 64); err != nil || size < 0 {
			badRequest(w, "The file size is not a number.")
			return
		}
	}
	res, err := s.agent.Put(ctx, io.LimitReader(file, s.opts.MaxUpload), size, agent.PutRequest{
		Patient: patient, Class: class, Purpose: purpose, FHIRType: fhirType, VaultURL: s.opts.VaultURL,
	})
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"record_ids": []uint64{res.ID}})
}

func pathID(w http.ResponseWriter, r *http.Request, what string) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		badRequest(w, "Not a "+what+" number.")
		return 0, false
	}
	return id, true
}

// decodeBody reads a small JSON request body into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		badRequest(w, "Send JSON.")
		return false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		badRequest(w, "The request is not valid: "+err.Error())
		return false
	}
	return true
}

// readRecord takes an access receipt, downloads and decrypts one record, and
// sends the plaintext only once all of it has been checked.
func (s *Server) readRecord(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	id, ok := pathID(w, r, "record")
	if !ok {
		return
	}
	var body struct {
		Purpose string `json:"purpose"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Purpose == "" {
		body.Purpose = agent.DefaultPurpose
	}
	if err := consenttypes.ValidatePurpose(body.Purpose); err != nil {
		badRequest(w, "Unknown purpose "+strconv.Quote(body.Purpose)+".")
		return
	}
	rec, err := s.agent.Record(ctx, id)
	if err != nil {
		writeFailure(w, err)
		return
	}
	if rec.Size_ > maxRead {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("This record is larger than the portal opens (%d MiB): use `healthd records get %d`.", maxRead>>20, id))
		return
	}
	var buf bytes.Buffer
	access, _, err := s.agent.Read(ctx, rec, body.Purpose, "", &buf)
	if err != nil {
		writeFailure(w, err)
		return
	}
	ext := "bin"
	if json.Valid(buf.Bytes()) {
		ext = "json"
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="record-%d.%s"`, id, ext))
	h.Set("X-Receipt-Id", strconv.FormatUint(access.ReceiptId, 10))
	h.Set("X-Record-Class", rec.DataClass)
	h.Set("X-Record-Fhir-Type", rec.FhirResourceType)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) eraseRecord(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	id, ok := pathID(w, r, "record")
	if !ok {
		return
	}
	versions, err := s.agent.Erase(ctx, id)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"erased": id, "versions": versions})
}

type consentView struct {
	ID          uint64    `json:"id"`
	Patient     party     `json:"patient"`
	Grantee     party     `json:"grantee"`
	Classes     []string  `json:"data_classes"`
	Purposes    []string  `json:"purposes"`
	Permissions []string  `json:"permissions"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Status      string    `json:"status"`
	Emergency   bool      `json:"emergency"`
	Reason      string    `json:"emergency_reason,omitempty"`
	Note        string    `json:"emergency_note,omitempty"`
	Review      string    `json:"review,omitempty"`
	WithKeys    bool      `json:"with_keys"`
}

func (s *Server) viewConsent(ctx context.Context, c consenttypes.Consent) consentView {
	v := consentView{
		ID: c.Id, Patient: s.party(ctx, c.Patient), Grantee: s.party(ctx, c.Grantee), Classes: c.DataClasses,
		Purposes: c.Purposes, Permissions: c.Permissions, Start: c.Period.Start, End: c.Period.End,
		Status: enumName(c.Status.String(), "CONSENT_STATUS_"), Emergency: c.Emergency, WithKeys: len(c.KeyGrants) > 0,
	}
	if c.Emergency {
		v.Reason = enumName(c.EmergencyReason.String(), "EMERGENCY_REASON_")
		v.Note = c.EmergencyNote
		v.Review = enumName(c.Review.String(), "REVIEW_STATE_")
	}
	return v
}

// listConsents lists the consents I gave (as patient) and those I hold.
func (s *Server) listConsents(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	me := s.agent.Address()
	cq := consenttypes.NewQueryClient(s.clientCtx())
	collect := func(page func(next []byte) ([]consenttypes.Consent, *query.PageResponse, error)) ([]consentView, error) {
		out := []consentView{}
		err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
			cs, pr, err := page(key)
			for _, c := range cs {
				out = append(out, s.viewConsent(ctx, c))
			}
			return pr, len(out) >= maxListed, err
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	given, err := collect(func(next []byte) ([]consenttypes.Consent, *query.PageResponse, error) {
		resp, err := cq.ConsentsByPatient(ctx, &consenttypes.QueryConsentsByPatientRequest{Patient: me, Pagination: &query.PageRequest{Key: next, Limit: 100, Reverse: true}})
		if err != nil {
			return nil, nil, err
		}
		return resp.Consents, resp.Pagination, nil
	})
	if err != nil && !notFoundOrEmpty(err) {
		writeFailure(w, err)
		return
	}
	held, err := collect(func(next []byte) ([]consenttypes.Consent, *query.PageResponse, error) {
		resp, err := cq.ConsentsByGrantee(ctx, &consenttypes.QueryConsentsByGranteeRequest{Grantee: me, Pagination: &query.PageRequest{Key: next, Limit: 100, Reverse: true}})
		if err != nil {
			return nil, nil, err
		}
		return resp.Consents, resp.Pagination, nil
	})
	if err != nil && !notFoundOrEmpty(err) {
		writeFailure(w, err)
		return
	}
	if given == nil {
		given = []consentView{}
	}
	if held == nil {
		held = []consentView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"given": given, "held": held})
}

func notFoundOrEmpty(err error) bool { return classify(err).Code == "not_found" }

// grantConsent commits a consent from me (the patient), with key grants so the
// grantee can decrypt.
func (s *Server) grantConsent(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	var body struct {
		Grantee     string   `json:"grantee"`
		Classes     []string `json:"data_classes"`
		Purposes    []string `json:"purposes"`
		Permissions []string `json:"permissions"`
		Days        int      `json:"days"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if !checkAddress(w, "The grantee", &body.Grantee) {
		return
	}
	if body.Grantee == s.agent.Address() {
		badRequest(w, "You always have access to your own records.")
		return
	}
	if err := consenttypes.ValidateTerms(body.Permissions, body.Classes, body.Purposes); err != nil {
		badRequest(w, "Choose at least one kind of data, purpose and permission: "+err.Error())
		return
	}
	if !checkDays(w, "The consent", body.Days) {
		return
	}
	id, err := s.agent.Grant(ctx, agent.GrantRequest{
		Grantee: body.Grantee, DataClasses: body.Classes, Purposes: body.Purposes, Permissions: body.Permissions,
		Duration: time.Duration(body.Days) * 24 * time.Hour, WithKeys: true,
	})
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

func (s *Server) revokeConsent(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	id, ok := pathID(w, r, "consent")
	if !ok {
		return
	}
	res, err := s.agent.Revoke(ctx, id)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

type receiptView struct {
	ID        uint64    `json:"id"`
	RecordID  uint64    `json:"record_id"`
	Class     string    `json:"data_class,omitempty"`
	Accessor  party     `json:"accessor"`
	Purpose   string    `json:"purpose"`
	ConsentID uint64    `json:"consent_id"`
	Emergency bool      `json:"emergency"`
	Review    string    `json:"review,omitempty"`
	Note      string    `json:"emergency_note,omitempty"`
	Time      time.Time `json:"time"`
}

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

func (s *Server) addDelegate(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	var body struct {
		Delegate string `json:"delegate"`
		Days     int    `json:"days"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if !checkAddress(w, "The delegate", &body.Delegate) || !checkDays(w, "A delegation", body.Days) {
		return
	}
	msg := &consenttypes.MsgAddDelegate{
		Patient: s.agent.Address(), Delegate: body.Delegate, ExpiresAt: time.Now().Add(time.Duration(body.Days) * 24 * time.Hour).UTC(),
	}
	if err := s.agent.SendOne(ctx, msg, &consenttypes.MsgAddDelegateResponse{}); err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"delegate": body.Delegate})
}

func (s *Server) removeDelegate(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	addr := r.PathValue("addr")
	if !checkAddress(w, "The delegate", &addr) {
		return
	}
	if err := s.agent.SendOne(ctx, &consenttypes.MsgRemoveDelegate{Patient: s.agent.Address(), Delegate: addr},
		&consenttypes.MsgRemoveDelegateResponse{}); err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"removed": addr})
}

// breakGlass opens an emergency access to a patient's records: time-boxed,
// coded, visible to the patient and reviewed by the registrars.
func (s *Server) breakGlass(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	var body struct {
		Patient string `json:"patient"`
		Reason  string `json:"reason"`
		Note    string `json:"note"`
		Minutes int    `json:"minutes"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if !checkAddress(w, "The patient", &body.Patient) {
		return
	}
	code, ok := consenttypes.EmergencyReason_value["EMERGENCY_REASON_"+strings.ToUpper(strings.ReplaceAll(body.Reason, "-", "_"))]
	if !ok || code == 0 {
		badRequest(w, "Choose the reason of the emergency.")
		return
	}
	if body.Minutes < 1 {
		badRequest(w, "Give how many minutes the emergency access lasts.")
		return
	}
	if consenttypes.ValidateEmergencyNote(body.Note) != nil { // the chain's own check, in characters
		badRequest(w, fmt.Sprintf("Write a note of 1 to %d characters, without clinical or identifying details.",
			consenttypes.MaxEmergencyNoteLength))
		return
	}
	var resp consenttypes.MsgBreakGlassResponse
	msg := &consenttypes.MsgBreakGlass{
		Provider: s.agent.Address(), Patient: body.Patient, Reason: consenttypes.EmergencyReason(code), Note: body.Note,
		Duration: time.Duration(body.Minutes) * time.Minute,
	}
	if err := s.agent.SendOne(ctx, msg, &resp); err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": resp.Id})
}
