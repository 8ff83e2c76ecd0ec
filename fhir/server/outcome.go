package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/healthd-chain/healthd/chaincfg"
	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/fhir/smart"
	"github.com/healthd-chain/healthd/vault"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// ReasonSystem is the code system of the chain's access decisions, the
// details of a refusal's OperationOutcome issue.
const ReasonSystem = "https://healthd.dev/fhir/CodeSystem/access-reason"

// Issue is an OperationOutcome issue.
type Issue struct {
	Severity    string           `json:"severity"`
	Code        string           `json:"code"`
	Details     *CodeableConcept `json:"details,omitempty"`
	Diagnostics string           `json:"diagnostics,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

// CodeableConcept and Coding are the FHIR datatypes.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// OperationOutcome is the FHIR resource of every error.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

func outcome(issues ...Issue) *OperationOutcome {
	for i := range issues {
		issues[i].Diagnostics = scrubAccounts(issues[i].Diagnostics)
	}
	return &OperationOutcome{ResourceType: "OperationOutcome", Issue: issues}
}

// issue is an error issue of the given IssueType code.
func issue(code, diagnostics string) Issue {
	return Issue{Severity: "error", Code: code, Diagnostics: diagnostics}
}

func writeOutcome(w http.ResponseWriter, status int, issues ...Issue) {
	writeResource(w, status, outcome(issues...))
}

// accountRE matches a chain account address in an error's text.
var accountRE = regexp.MustCompile(chaincfg.Bech32Prefix + `1[02-9ac-hj-np-z]{38,}`)

// scrubAccounts takes chain addresses out of an error's text: the errors of
// the agent and the chain name the patient by address, which the EHR knows
// only as an MRN, and which the server does not hand out.
func scrubAccounts(s string) string { return accountRE.ReplaceAllString(s, "(an account)") }

// validationIssues turns the validator's findings into issues.
func validationIssues(prefix string, found []fhir.Issue) []Issue {
	out := make([]Issue, len(found))
	for i, f := range found {
		out[i] = Issue{Severity: "error", Code: f.Code, Diagnostics: f.Diagnostics}
		if e := joinPath(prefix, f.Expression); e != "" {
			out[i].Expression = []string{e}
		}
	}
	return out
}

func joinPath(prefix, expr string) string {
	switch {
	case prefix == "":
		return expr
	case expr == "":
		return prefix
	}
	// the validator names a top-level resource by its type: inside a Bundle
	// entry, the path continues from the entry's resource element
	if i := strings.IndexByte(expr, '.'); i >= 0 {
		return prefix + expr[i:]
	}
	return prefix
}

// reasonWords are the chain's refusal reasons as an EHR's user reads them.
var reasonWords = map[consenttypes.AccessReason]string{
	consenttypes.ACCESS_REASON_NO_CONSENT:        "no consent: the patient has not given this organization a consent",
	consenttypes.ACCESS_REASON_NOT_COVERED:       "not covered: no live consent covers this class of data, permission and purpose",
	consenttypes.ACCESS_REASON_NOT_STARTED:       "not started: the covering consent has not started yet",
	consenttypes.ACCESS_REASON_EXPIRED:           "expired: the covering consent has ended",
	consenttypes.ACCESS_REASON_REVOKED:           "revoked: the patient revoked the covering consent",
	consenttypes.ACCESS_REASON_PROVIDER_INACTIVE: "provider inactive: this organization is not an active provider in the registry",
}

// refusalIssue is the OperationOutcome issue of a chain refusal: forbidden,
// with the chain's reason as a coded detail.
func refusalIssue(d *agent.AccessDenied) Issue {
	words, ok := reasonWords[d.Reason]
	if !ok {
		words = "refused by the chain"
	}
	return Issue{
		Severity: "error", Code: "forbidden", Diagnostics: "the chain refused: " + words,
		Details: &CodeableConcept{Coding: []Coding{{System: ReasonSystem, Code: d.Reason.String()}}, Text: words},
	}
}

// failure writes the OperationOutcome of an error from the chain, the vault
// or the agent, by its type (never by its text). What the EHR reads is a
// fixed sentence for anything internal (an unreachable node or vault, a
// transaction's raw log, an unexpected error): URLs, gRPC text and chain logs
// stay in the server's log, where the request id the answer carries finds
// them.
func failure(w http.ResponseWriter, err error) {
	status, iss := failureIssue(w, err)
	writeOutcome(w, status, iss)
}

// failureIssue classifies err for the response w (the request's, or a
// Bundle entry's inside it): an internal failure is remembered for the
// request's log line, and its issue names the request id.
func failureIssue(w http.ResponseWriter, err error) (int, Issue) {
	status, iss := classify(err)
	if rw, ok := w.(*requestWriter); ok {
		if rw.err == nil {
			rw.err = err
		}
		if status >= 500 || iss.Code == "business-rule" {
			iss.Diagnostics += " (request id " + rw.id + ")"
		}
	}
	return status, iss
}

// classify maps an error to its HTTP status and OperationOutcome issue.
// Diagnostics never carry the error's own text where it may name a URL, a
// node's gRPC answer or a chain log.
func classify(err error) (int, Issue) {
	var denied *agent.AccessDenied
	var waiting *agent.WaitingError
	var txErr *agent.TxError
	var ns *notServable
	switch {
	case errors.As(err, &ns):
		return http.StatusUnprocessableEntity, issue("not-supported", ns.msg)
	case errors.As(err, &denied):
		return http.StatusForbidden, refusalIssue(denied)
	case errors.As(err, &waiting):
		// custodians' progress (counts and share ids): the EHR's user acts on it
		return http.StatusServiceUnavailable, issue("transient", err.Error()+": retry in a few seconds")
	case errors.Is(err, agent.ErrErased), errors.Is(err, vault.ErrGone):
		return http.StatusGone, issue("deleted", "the record was erased by the patient")
	case errors.Is(err, agent.ErrNotEscrowed):
		return http.StatusForbidden, issue("forbidden", err.Error())
	case errors.As(err, &txErr) && errors.Is(err, agent.ErrAccessRefused):
		// a transaction the consent rule refused: its code, not its raw log
		return http.StatusForbidden, issue("forbidden",
			fmt.Sprintf("the chain refused the transaction: access denied (codespace %s, code %d)", txErr.Codespace, txErr.Code))
	case errors.Is(err, agent.ErrAccessRefused), errors.Is(err, recordstypes.ErrAccessDenied):
		return http.StatusForbidden, issue("forbidden", err.Error())
	case errors.Is(err, vault.ErrUnreachable), errors.Is(err, vault.ErrUnavailable):
		return http.StatusServiceUnavailable, issue("transient", "the vault is unavailable: retry later")
	case agent.ChainUnreachable(err):
		return http.StatusServiceUnavailable, issue("transient", "the healthd node cannot be reached: retry later")
	case status.Code(err) == codes.NotFound:
		return http.StatusNotFound, issue("not-found", "no such resource")
	case errors.As(err, &txErr):
		return http.StatusUnprocessableEntity, issue("business-rule",
			fmt.Sprintf("the chain refused the transaction (codespace %s, code %d)", txErr.Codespace, txErr.Code))
	case errors.Is(err, agent.ErrSimulationRefused):
		return http.StatusUnprocessableEntity, issue("business-rule", "the chain refused the transaction")
	}
	return http.StatusInternalServerError, issue("exception", "internal error")
}

// requestWriter is the response of one request: its id, sent in the
// X-Request-Id header, in every 5xx OperationOutcome and in the request's
// log line; and the error failure answered, logged with it.
type requestWriter struct {
	http.ResponseWriter
	id  string
	err error
}

// newRequestID is a random 64-bit request id in hex.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func asOAuth(err error, target **smart.Error) bool { return errors.As(err, target) }
