package agent

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/client/paging"
	"github.com/healthd-chain/healthd/crypto"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
)

// rekeyMargin skips, when re-issuing key grants, consents about to end: the
// chain refuses grants for a consent that has ended by the time the
// transaction runs.
const rekeyMargin = 2 * time.Minute

// KeyGrants wraps the agent's (the patient's) current class key of each class
// to the grantee's encryption key as published on chain, so the grantee can
// read and write those classes without the patient online.
func (a *Agent) KeyGrants(ctx context.Context, grantee string, classes []string) ([][]byte, error) {
	pub, err := PublishedKey(ctx, a.clientCtx, grantee)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(classes))
	for _, class := range classes {
		if err := consenttypes.ValidateDataClass(class); err != nil {
			return nil, err
		}
		key, kctx, err := a.ClassKey(ctx, a.addr, class, 0)
		if err != nil {
			return nil, err
		}
		g, err := crypto.WrapClassKey(pub, key, kctx)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// GrantRequest is a consent the agent gives, as the patient or as a live
// delegate of Patient.
type GrantRequest struct {
	// Patient whose data it is (default: the agent). A delegate's consent
	// carries no keys: only the patient holds them.
	Patient     string
	Grantee     string
	DataClasses []string
	Purposes    []string
	Permissions []string
	Duration    time.Duration
	// WithKeys attaches key grants of the classes, so the grantee can
	// decrypt (read) and encrypt (write) them.
	WithKeys bool
}

// Grant commits a consent of req.Patient (default: the agent) to
// req.Grantee, starting now, and returns its id.
func (a *Agent) Grant(ctx context.Context, req GrantRequest) (uint64, error) {
	if req.Patient == "" {
		req.Patient = a.addr
	}
	msg := &consenttypes.MsgGrantConsent{
		Signer: a.addr, Patient: req.Patient, Grantee: req.Grantee, Permissions: req.Permissions,
		DataClasses: req.DataClasses, Purposes: req.Purposes, Duration: req.Duration,
	}
	if req.WithKeys && req.Patient != a.addr {
		return 0, fmt.Errorf("only the patient holds the class keys: grant %s's consent without keys, or ask the patient "+
			"to grant it (the chain refuses key grants signed by a delegate)", req.Patient)
	}
	if req.WithKeys {
		var err error
		if msg.KeyGrants, err = a.KeyGrants(ctx, req.Grantee, req.DataClasses); err != nil {
			return 0, err
		}
	}
	var resp consenttypes.MsgGrantConsentResponse
	if err := a.SendOne(ctx, msg, &resp); err != nil {
		return 0, fmt.Errorf("the consent was not granted: %w", err)
	}
	return resp.Id, nil
}

// RevokeResult tells what a revocation changed.
type RevokeResult struct {
	Revoked         uint64            `json:"revoked"`
	RotatedClasses  []string          `json:"rotated_classes"`
	NewEpochs       map[string]uint64 `json:"new_epochs"`
	RekeyedConsents []uint64          `json:"rekeyed_consents"`
	// KeysNotRotated: a delegate revoked a consent that carried key grants;
	// the grantee keeps the current class keys until the patient revokes a
	// consent carrying them (or rotates) herself.
	KeysNotRotated bool `json:"keys_not_rotated,omitempty"`
}

// Revoke revokes consent id. As the patient: if it carried key grants, the
// chain moves each of its classes to a new key epoch, and the same
// transaction re-issues the new keys to the patient's other live consents
// holding those classes, so the other grantees keep reading and writing. As
// a live delegate: access stops at once, but no key moves (only the patient
// holds the keys; the result says so).
func (a *Agent) Revoke(ctx context.Context, id uint64) (RevokeResult, error) {
	res := RevokeResult{Revoked: id, NewEpochs: map[string]uint64{}}
	cr, err := consenttypes.NewQueryClient(a.clientCtx).Consent(ctx, &consenttypes.QueryConsentRequest{Id: id})
	if err != nil {
		return res, fmt.Errorf("consent %d: %w", id, err)
	}
	c := cr.Consent
	msg := &consenttypes.MsgRevokeConsent{Signer: a.addr, ConsentId: id}
	if c.Patient != a.addr {
		res.KeysNotRotated = len(c.KeyGrants) > 0
	} else if len(c.KeyGrants) > 0 {
		if msg.RotatedKeyGrants, err = a.rotation(ctx, c.DataClasses, id, &res); err != nil {
			return res, err
		}
	}
	var resp consenttypes.MsgRevokeConsentResponse
	if err := a.SendOne(ctx, msg, &resp); err != nil {
		return res, fmt.Errorf("consent %d was not revoked: %w", id, err)
	}
	return res, nil
}

// rotation computes, for a rotation of classes (those not at the last epoch:
// the chain moves them, as it does), the new epochs and the key-grant updates
// of the patient's live consents other than skip, into res.
func (a *Agent) rotation(ctx context.Context, classes []string, skip uint64, res *RevokeResult) ([]consenttypes.KeyGrantUpdate, error) {
	epochs, err := CurrentEpochs(ctx, a.clientCtx, a.addr)
	if err != nil {
		return nil, err
	}
	for _, class := range classes {
		if epochs[class] < crypto.MaxKeyEpoch {
			res.RotatedClasses = append(res.RotatedClasses, class)
		}
	}
	newKeys := map[string][]byte{}
	for _, class := range res.RotatedClasses {
		res.NewEpochs[class] = epochs[class] + 1
		kctx := crypto.KeyContext{Patient: a.addr, DataClass: class, Epoch: res.NewEpochs[class]}
		if newKeys[class], err = crypto.PatientClassKey(a.priv, kctx); err != nil {
			return nil, err
		}
	}
	updates, err := a.rekeyConsents(ctx, skip, newKeys, res.NewEpochs)
	if err != nil {
		return nil, err
	}
	for _, r := range updates {
		res.RekeyedConsents = append(res.RekeyedConsents, r.ConsentId)
	}
	return updates, nil
}

// Rotate moves the agent's (a patient's) class keys of classes to a new
// epoch without revoking anything, re-issuing the new keys to its live
// grantees in the same transaction (as a revocation does), and escrows the
// rotated emergency keys again. After an emergency, it closes the records
// written from then on to the provider that combined the released keys.
func (a *Agent) Rotate(ctx context.Context, classes []string) (RevokeResult, *EscrowResult, error) {
	res, err := a.rotateOnly(ctx, classes)
	if err != nil {
		return res, nil, err
	}
	escrow, err := a.RenewEscrow(ctx)
	if err != nil {
		return res, nil, fmt.Errorf("the keys were rotated, but not escrowed again: %w (run `healthd consent escrow`)", err)
	}
	return res, escrow, nil
}

// rotateOnly rotates classes (with the grantees' new keys), escrowing nothing.
func (a *Agent) rotateOnly(ctx context.Context, classes []string) (RevokeResult, error) {
	res := RevokeResult{NewEpochs: map[string]uint64{}}
	msg := &consenttypes.MsgRotateClassKeys{Patient: a.addr, DataClasses: classes}
	var err error
	if msg.RotatedKeyGrants, err = a.rotation(ctx, classes, 0, &res); err != nil {
		return res, err
	}
	if err := a.SendOne(ctx, msg, &consenttypes.MsgRotateClassKeysResponse{}); err != nil {
		return res, fmt.Errorf("the keys were not rotated: %w", err)
	}
	return res, nil
}

// rekeyConsents builds the key-grant updates for the patient's live consents
// other than revoked: every grant for a rotated class is replaced by a grant
// of the new epoch's key to the consent's grantee; the others are kept. A
// grantee that is a provider not active now (suspended, revoked, credential
// expired) gets no new key: its consent keeps the old grants, which open
// nothing written after this revocation.
func (a *Agent) rekeyConsents(ctx context.Context, revoked uint64, newKeys map[string][]byte, newEpochs map[string]uint64,
) ([]consenttypes.KeyGrantUpdate, error) {
	cq := consenttypes.NewQueryClient(a.clientCtx)
	var updates []consenttypes.KeyGrantUpdate
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := cq.ConsentsByPatient(ctx, &consenttypes.QueryConsentsByPatientRequest{
			Patient: a.addr, Status: consenttypes.CONSENT_STATUS_ACTIVE, Pagination: &query.PageRequest{Key: key},
		})
		if err != nil {
			return nil, false, err
		}
		for _, o := range resp.Consents {
			if o.Id == revoked || len(o.KeyGrants) == 0 || time.Until(o.Period.End) < rekeyMargin {
				continue
			}
			if inactive, err := a.inactiveProvider(ctx, o.Grantee); err != nil {
				return nil, false, err
			} else if inactive {
				continue
			}
			grants := make([][]byte, 0, len(o.KeyGrants))
			changed := false
			for _, g := range o.KeyGrants {
				class, _, ok := crypto.GrantLabel(g)
				if !ok || newKeys[class] == nil {
					grants = append(grants, g)
					continue
				}
				pub, err := PublishedKey(ctx, a.clientCtx, o.Grantee)
				if err != nil {
					return nil, false, fmt.Errorf("re-issuing consent %d's key: %w", o.Id, err)
				}
				ng, err := crypto.WrapClassKey(pub, newKeys[class], crypto.KeyContext{Patient: a.addr, DataClass: class, Epoch: newEpochs[class]})
				if err != nil {
					return nil, false, err
				}
				grants = append(grants, ng)
				changed = true
			}
			if changed && !slices.ContainsFunc(updates, func(u consenttypes.KeyGrantUpdate) bool { return u.ConsentId == o.Id }) {
				updates = append(updates, consenttypes.KeyGrantUpdate{ConsentId: o.Id, KeyGrants: grants})
			}
		}
		return resp.Pagination, false, nil
	})
	if err != nil {
		return nil, err
	}
	return updates, nil
}

// inactiveProvider reports whether addr is a registered provider that is not
// active now, as the chain says.
func (a *Agent) inactiveProvider(ctx context.Context, addr string) (bool, error) {
	resp, err := providerstypes.NewQueryClient(a.clientCtx).Provider(ctx, &providerstypes.QueryProviderRequest{Address: addr})
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !resp.IsActive, nil
}

// AddDelegate lets delegate act for the agent (the patient) for d from now:
// grant and revoke consents, never hold the class keys.
func (a *Agent) AddDelegate(ctx context.Context, delegate string, d time.Duration) error {
	return a.SendOne(ctx, &consenttypes.MsgAddDelegate{Patient: a.addr, Delegate: delegate, ExpiresAt: time.Now().Add(d).UTC()},
		&consenttypes.MsgAddDelegateResponse{})
}

// RemoveDelegate ends delegate's delegation by the agent (the patient).
func (a *Agent) RemoveDelegate(ctx context.Context, delegate string) error {
	return a.SendOne(ctx, &consenttypes.MsgRemoveDelegate{Patient: a.addr, Delegate: delegate}, &consenttypes.MsgRemoveDelegateResponse{})
}

// BreakGlass opens an emergency access of the agent (an active provider) to
// patient's records for d, with a coded reason and a note (no clinical or
// identifying details), and returns its id. The patient sees it; the
// registrars review it.
func (a *Agent) BreakGlass(ctx context.Context, patient string, reason consenttypes.EmergencyReason, note string, d time.Duration,
) (uint64, error) {
	var resp consenttypes.MsgBreakGlassResponse
	err := a.SendOne(ctx, &consenttypes.MsgBreakGlass{Provider: a.addr, Patient: patient, Reason: reason, Note: note, Duration: d}, &resp)
	return resp.Id, err
}

// Consents lists the consents the agent gave as patient (given) or holds as
// grantee, newest first, stopping after limit.
func (a *Agent) Consents(ctx context.Context, given bool, limit int) ([]consenttypes.Consent, error) {
	cq := consenttypes.NewQueryClient(a.clientCtx)
	return paging.Collect(limit, newestFirst, func(req *query.PageRequest) ([]consenttypes.Consent, *query.PageResponse, error) {
		var resp *consenttypes.QueryConsentsResponse
		var err error
		if given {
			resp, err = cq.ConsentsByPatient(ctx, &consenttypes.QueryConsentsByPatientRequest{Patient: a.addr, Pagination: req})
		} else {
			resp, err = cq.ConsentsByGrantee(ctx, &consenttypes.QueryConsentsByGranteeRequest{Grantee: a.addr, Pagination: req})
		}
		if err != nil {
			return nil, nil, err
		}
		return resp.Consents, resp.Pagination, nil
	})
}
