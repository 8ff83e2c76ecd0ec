package portal

// What the API accepts: addresses, ids, durations and JSON bodies, checked
// before anything reaches the agent.

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"

	"github.com/healthd-chain/healthd/chaincfg"
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
