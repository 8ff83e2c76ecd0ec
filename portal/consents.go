package portal

// Consents: list, grant, revoke; delegates; break-glass.

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/healthd-chain/healthd/client/agent"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// listConsents lists the consents I gave (as patient) and those I hold.
func (s *Server) listConsents(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	out := map[string]any{}
	for name, given := range map[string]bool{"given": true, "held": false} {
		cs, err := s.agent.Consents(ctx, given, maxListed)
		if err != nil && !notFoundOrEmpty(err) {
			writeFailure(w, err)
			return
		}
		views := make([]consentView, 0, len(cs))
		for _, c := range cs {
			views = append(views, s.viewConsent(ctx, c))
		}
		out[name] = views
	}
	writeJSON(w, http.StatusOK, out)
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
	out := struct {
		agent.RevokeResult
		Escrow      *agent.EscrowResult `json:"escrow,omitempty"`
		EscrowError string              `json:"escrow_error,omitempty"`
	}{RevokeResult: res}
	if len(res.RotatedClasses) > 0 { // escrow the rotated emergency keys again
		out.Escrow, err = s.agent.RenewEscrow(ctx)
		if err != nil {
			out.EscrowError = classify(err).Message
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// ensureEscrow escrows the patient's emergency class keys with the
// custodians if there is no escrow yet, or again if it is stale or behind a
// rotation (the page calls it at login).
func (s *Server) ensureEscrow(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := s.agent.EnsureEscrow(ctx)
	switch {
	case errors.Is(err, agent.ErrNoCustodians):
		writeJSON(w, http.StatusOK, map[string]any{"escrowed": false, "reason": "The consortium has no key custodians yet."})
	case err != nil:
		writeFailure(w, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"escrowed": res != nil, "escrow": res})
	}
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
	if err := s.agent.AddDelegate(ctx, body.Delegate, time.Duration(body.Days)*24*time.Hour); err != nil {
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
	if err := s.agent.RemoveDelegate(ctx, addr); err != nil {
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
	id, err := s.agent.BreakGlass(ctx, body.Patient, consenttypes.EmergencyReason(code), body.Note, time.Duration(body.Minutes)*time.Minute)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

// rotateKeys moves the patient's class keys of some classes to a new epoch
// (after an emergency: the provider's combined keys open nothing filed
// afterwards), re-issuing them to the live grantees and escrowing them again.
func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	var body struct {
		Classes []string `json:"classes"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	for _, c := range body.Classes {
		if consenttypes.ValidateDataClass(c) != nil {
			badRequest(w, "Unknown kind of data "+strconv.Quote(c)+".")
			return
		}
	}
	if len(body.Classes) == 0 {
		badRequest(w, "Choose the kinds of data whose keys to rotate.")
		return
	}
	res, escrow, err := s.agent.Rotate(ctx, body.Classes)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rotated_classes": res.RotatedClasses, "new_epochs": res.NewEpochs, "escrow": escrow})
}
