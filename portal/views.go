package portal

// What the API shows: the JSON views of providers, records, consents and
// receipts, with names looked up on chain, and the session and provider
// pages.

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cosmos/cosmos-sdk/client"

	"github.com/healthd-chain/healthd/client/agent"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
)

func (s *Server) clientCtx() client.Context { return s.agent.ClientContext() }

// nameCache maps provider addresses to their registry entry.
type nameCache struct {
	agent   *agent.Agent
	mu      sync.Mutex
	entries map[string]nameEntry
}

type nameEntry struct {
	name, kind string
	at         time.Time
}

func newNameCache(a *agent.Agent) *nameCache {
	return &nameCache{agent: a, entries: map[string]nameEntry{}}
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
	if pr, err := c.agent.Provider(ctx, addr); err == nil {
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

	pt, err := s.agent.Patient(ctx, me)
	switch {
	case err == nil:
		var delegates []map[string]any
		for _, d := range pt.Delegates {
			delegates = append(delegates, map[string]any{"delegate": s.party(ctx, d.Address), "expires_at": d.ExpiresAt})
		}
		out["patient"] = map[string]any{"registered_at": pt.RegisteredAt, "delegates": delegates}
		if escrow, renew, err := s.agent.EscrowStatus(ctx); err == nil {
			e := map[string]any{"needed": renew}
			if escrow != nil {
				e["classes"], e["threshold"], e["custodians"] = escrow.Classes, escrow.Threshold, len(escrow.Shares)
			}
			out["escrow"] = e
		}
	case agent.ChainUnreachable(err):
		writeFailure(w, err)
		return
	}
	if pr, err := s.agent.Provider(ctx, me); err == nil {
		out["provider"] = viewProvider(pr)
	}
	if p, err := s.agent.ConsentParams(ctx); err == nil {
		out["max_emergency_minutes"] = int(p.MaxEmergencyDuration.Minutes())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) provider(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	pr, err := s.agent.Provider(ctx, r.PathValue("addr"))
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

// releaseView is a custodian's release of key shares, for the patient's log.
type releaseView struct {
	AccessID  uint64    `json:"access_id"`
	Custodian party     `json:"custodian"`
	Provider  party     `json:"provider"`
	Classes   []string  `json:"classes"`
	Time      time.Time `json:"time"`
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
