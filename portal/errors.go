package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/vault"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// apiError is the body of every failed API call: a stable code for the page
// and a sentence for the person, plus the technical detail.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"error"`
	Detail  string `json:"detail,omitempty"`
	// Released and Needed count the custodians' releases while an emergency
	// read waits for them (code waiting_for_custodians).
	Released int `json:"released,omitempty"`
	Needed   int `json:"needed,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Code: code, Message: message})
}

// badRequest is an input the page should not have sent.
func badRequest(w http.ResponseWriter, message string) {
	writeError(w, http.StatusBadRequest, "bad_request", message)
}

// reasonMessages are the sentences shown for each refusal of the consent
// check.
var reasonMessages = map[consenttypes.AccessReason]struct{ code, message string }{
	consenttypes.ACCESS_REASON_NO_CONSENT: {
		"no_consent",
		"You have no consent from this patient. Ask the patient to grant you access.",
	},
	consenttypes.ACCESS_REASON_NOT_COVERED: {
		"not_covered",
		"Your consent from this patient does not cover this kind of data or this purpose.",
	},
	consenttypes.ACCESS_REASON_NOT_STARTED: {
		"not_started",
		"Your consent from this patient has not started yet.",
	},
	consenttypes.ACCESS_REASON_EXPIRED: {
		"expired",
		"Your consent from this patient has expired. Ask the patient to grant access again.",
	},
	consenttypes.ACCESS_REASON_REVOKED: {
		"revoked",
		"The patient revoked your access.",
	},
	consenttypes.ACCESS_REASON_PROVIDER_INACTIVE: {
		"provider_inactive",
		"Your provider registration is not active (suspended, revoked, or its credential expired). Contact the consortium's registrar.",
	},
}

// writeFailure turns an error of the agent into a status, a code and a
// sentence a patient or clinician understands.
func writeFailure(w http.ResponseWriter, err error) {
	e := classify(err)
	status := http.StatusBadGateway
	switch e.Code {
	case "no_consent", "not_covered", "not_started", "expired", "revoked", "provider_inactive", "refused", "not_escrowed":
		status = http.StatusForbidden
	case "erased":
		status = http.StatusGone
	case "waiting_for_custodians":
		status = http.StatusConflict
	case "not_found":
		status = http.StatusNotFound
	case "rejected":
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, e)
}

// classify maps an error to what the page shows, by its type: the agent's
// *AccessDenied (with the chain's reason) and *TxError, the vault's errors,
// gRPC status codes and network errors. No error is recognised by its text.
func classify(err error) apiError {
	detail := err.Error()
	var denied *agent.AccessDenied
	if errors.As(err, &denied) {
		if m, ok := reasonMessages[denied.Reason]; ok {
			return apiError{Code: m.code, Message: m.message, Detail: detail}
		}
	}
	var waiting *agent.WaitingError
	if errors.As(err, &waiting) {
		return apiError{
			Code: "waiting_for_custodians", Released: waiting.Released, Needed: waiting.Needed, Detail: detail,
			Message: fmt.Sprintf("Waiting for custodians (%d of %d released): the patient's emergency keys open once %d of the "+
				"consortium's key custodians have released their shares on the chain. This usually takes seconds.",
				waiting.Released, waiting.Needed, waiting.Needed),
		}
	}
	var txErr *agent.TxError
	switch {
	case errors.Is(err, agent.ErrErased), errors.Is(err, vault.ErrGone):
		return apiError{Code: "erased", Message: "The patient erased this record: it can no longer be read.", Detail: detail}
	case errors.Is(err, agent.ErrNotEscrowed):
		return apiError{Code: "not_escrowed", Message: "The patient did not escrow this kind of data for emergencies: " +
			"an emergency access cannot open it.", Detail: detail}
	case errors.Is(err, vault.ErrUnreachable):
		return apiError{Code: "vault_unreachable", Message: "The record vault cannot be reached. Try again later, or tell your IT team.", Detail: detail}
	case errors.Is(err, agent.ErrAccessRefused), errors.Is(err, recordstypes.ErrAccessDenied):
		// a refusal found only by the transaction (the consent changed between
		// the check and the block)
		return apiError{Code: "refused", Message: "The chain refused this access: your consent does not allow it now.", Detail: detail}
	case agent.ChainUnreachable(err):
		return apiError{Code: "chain_unreachable", Message: "The healthd node cannot be reached. Try again later, or tell your IT team.", Detail: detail}
	case status.Code(err) == codes.NotFound:
		return apiError{Code: "not_found", Message: "Not found on the chain.", Detail: detail}
	case errors.As(err, &txErr):
		return apiError{Code: "rejected", Message: "The chain refused the transaction: " + firstClause(txErr.Log), Detail: detail}
	case errors.Is(err, agent.ErrSimulationRefused):
		return apiError{Code: "rejected", Message: "The chain refused the transaction: " + firstClause(detail), Detail: detail}
	}
	return apiError{Code: "error", Message: "Something went wrong: " + firstClause(detail), Detail: detail}
}

// firstClause keeps an error's message short enough for a page.
func firstClause(s string) string {
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
