package portal

// Records: list (with the chain's read decisions), file, read, erase.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/fhir"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// viewRecord is rec as the page shows it.
func (s *Server) viewRecord(ctx context.Context, rec recordstypes.Record) recordView {
	return recordView{
		ID: rec.Id, Class: rec.DataClass, FHIRType: rec.FhirResourceType, Author: s.party(ctx, rec.Author),
		CreatedAt: rec.CreatedAt, Status: enumName(rec.Status.String(), "RECORD_STATUS_"), Size: rec.Size_,
	}
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
		bundle, err := fhir.ParseBundle(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_bundle", "This is not a FHIR R4 Bundle the portal can import: "+err.Error())
			return
		}
		done, err := s.agent.ImportBundle(ctx, bundle, patient, purpose, s.opts.VaultURL, nil)
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

// readRecord takes an access receipt (none for the record's patient),
// downloads and decrypts one record, and sends the plaintext only once all of
// it has been checked.
func (s *Server) readRecord(w http.ResponseWriter, r *http.Request) {
	rec, plain, access, ok := s.read(w, r)
	if !ok {
		return
	}
	ext := "bin"
	if json.Valid(plain) {
		ext = "json"
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="record-%d.%s"`, rec.Id, ext))
	h.Set("X-Receipt-Id", strconv.FormatUint(access.ReceiptId, 10)) // 0: the patient's own read takes none
	h.Set("X-Record-Class", rec.DataClass)
	h.Set("X-Record-Fhir-Type", rec.FhirResourceType)
	_, _ = w.Write(plain)
}

// openRecord is the record view: readRecord's read, answered as JSON with
// the record, its summary and readable fields, and its content (text, or
// base64 for a file that is not text). The summary joins the session's
// timeline.
func (s *Server) openRecord(w http.ResponseWriter, r *http.Request) {
	gen := s.summaries.generation()
	rec, plain, access, ok := s.read(w, r)
	if !ok {
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	sum := fhir.Summarize(plain)
	s.summaries.put(gen, rec.Id, sum)
	out := map[string]any{
		"record": s.viewRecord(ctx, rec), "receipt_id": access.ReceiptId, "summary": sum, "size": len(plain),
		"version": rec.Version, "root_id": rec.RootId, "may_amend": rec.Author == s.agent.Address() && rec.Status == recordstypes.RECORD_STATUS_ACTIVE,
	}
	if utf8.Valid(plain) {
		out["text"] = string(plain)
	} else {
		out["data"] = plain // base64 in JSON
	}
	writeJSON(w, http.StatusOK, out)
}

// read takes a receipt (none for the record's patient), downloads, checks
// and decrypts the record of the request's path for the purpose of its
// body; on failure it has answered.
func (s *Server) read(w http.ResponseWriter, r *http.Request) (recordstypes.Record, []byte, recordstypes.MsgAccessRecordResponse, bool) {
	var access recordstypes.MsgAccessRecordResponse
	ctx, cancel := s.ctx(r)
	defer cancel()
	id, ok := pathID(w, r, "record")
	if !ok {
		return recordstypes.Record{}, nil, access, false
	}
	var body struct {
		Purpose string `json:"purpose"`
	}
	if !decodeBody(w, r, &body) {
		return recordstypes.Record{}, nil, access, false
	}
	if body.Purpose == "" {
		body.Purpose = agent.DefaultPurpose
	}
	if err := consenttypes.ValidatePurpose(body.Purpose); err != nil {
		badRequest(w, "Unknown purpose "+strconv.Quote(body.Purpose)+".")
		return recordstypes.Record{}, nil, access, false
	}
	rec, err := s.agent.Record(ctx, id)
	if err != nil {
		writeFailure(w, err)
		return rec, nil, access, false
	}
	if rec.Size_ > maxRead {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("This record is larger than the portal opens (%d MiB): use `healthd records get %d`.", maxRead>>20, id))
		return rec, nil, access, false
	}
	var buf bytes.Buffer
	access, _, err = s.agent.Read(ctx, rec, body.Purpose, "", &buf)
	if err != nil {
		writeFailure(w, err)
		return rec, nil, access, false
	}
	return rec, buf.Bytes(), access, true
}

// amendRecord files the multipart upload's file as the new version of a
// record (the chain lets its author, or its patient, amend it; a provider
// also needs the patient's write consent). The file is encrypted in memory.
func (s *Server) amendRecord(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	id, ok := pathID(w, r, "record")
	if !ok {
		return
	}
	// read part by part, into memory: a parsed multipart form would spill
	// a large file, in plaintext, to a temporary file
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxUpload+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		badRequest(w, "Send the new version as a multipart form with a file.")
		return
	}
	purpose := agent.DefaultPurpose
	var raw []byte
	for raw == nil {
		part, err := mr.NextPart()
		if err == io.EOF {
			badRequest(w, "No file was sent.")
			return
		}
		if err != nil {
			badRequest(w, "The upload was cut short.")
			return
		}
		b, err := io.ReadAll(io.LimitReader(part, s.opts.MaxUpload+1))
		switch {
		case err != nil:
			badRequest(w, "The upload was cut short.")
			return
		case part.FormName() == "purpose":
			purpose = strings.TrimSpace(string(b))
		case part.FormName() == "file":
			if int64(len(b)) > s.opts.MaxUpload {
				badRequest(w, fmt.Sprintf("The file is larger than the portal's limit of %d MiB.", s.opts.MaxUpload>>20))
				return
			}
			raw = b
		}
	}
	if err := consenttypes.ValidatePurpose(purpose); err != nil {
		badRequest(w, "Unknown purpose "+strconv.Quote(purpose)+".")
		return
	}
	if len(raw) == 0 {
		badRequest(w, "The file is empty.")
		return
	}
	old, err := s.agent.Record(ctx, id)
	if err != nil {
		writeFailure(w, err)
		return
	}
	fhirType := old.FhirResourceType
	if t := fhir.Summarize(raw).Type; t != "" {
		if t != fhirType {
			badRequest(w, fmt.Sprintf("The new version is a %s; record #%d is a %s.", t, id, fhirType))
			return
		}
	}
	newID, err := s.agent.Amend(ctx, id, raw, fhirType, purpose, s.opts.VaultURL)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"amended": id, "record_id": newID})
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
