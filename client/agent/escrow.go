package agent

import (
	"bytes"
	"context"
	"crypto/hpke"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cosmos/cosmos-sdk/types/query"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/healthd-chain/healthd/client/paging"
	"github.com/healthd-chain/healthd/crypto"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// Emergency key escrow (issue #17; docs/architecture.md): the patient splits
// the current key of each emergency class among the custodians; a custodian
// releases its shares to the provider of a live emergency access; the
// provider combines a threshold of them.

// EscrowResult says what an escrow stored.
type EscrowResult struct {
	SetVersion uint64                    `json:"set_version"`
	Threshold  uint32                    `json:"threshold"`
	Custodians int                       `json:"custodians"`
	Classes    []consenttypes.ClassEpoch `json:"classes"`
}

// ErrNoCustodians is returned when the chain has no custodian set.
var ErrNoCustodians = errors.New("the chain has no custodians: emergency keys cannot be escrowed (governance sets them in the consent params)")

// Escrow escrows the agent's own (a patient's) current class keys of classes
// (default: consenttypes.DefaultEmergencyClasses) with the chain's custodians,
// replacing any earlier escrow.
func (a *Agent) Escrow(ctx context.Context, classes []string) (EscrowResult, error) {
	if len(classes) == 0 {
		classes = consenttypes.DefaultEmergencyClasses
	}
	cq := consenttypes.NewQueryClient(a.clientCtx)
	pr, err := cq.Params(ctx, &consenttypes.QueryParamsRequest{})
	if err != nil {
		return EscrowResult{}, err
	}
	params := pr.Params
	n, t := len(params.Custodians), int(params.CustodianThreshold)
	if n == 0 {
		return EscrowResult{}, ErrNoCustodians
	}
	epochs, err := CurrentEpochs(ctx, a.clientCtx, a.addr)
	if err != nil {
		return EscrowResult{}, err
	}
	msg := &consenttypes.MsgEscrowKeys{Signer: a.addr, Patient: a.addr, SetVersion: params.CustodianSetVersion}
	perCustodian := make([][]crypto.ClassShare, n)
	for _, class := range classes {
		kctx := crypto.KeyContext{Patient: a.addr, DataClass: class, Epoch: epochs[class]}
		key, err := crypto.PatientClassKey(a.priv, kctx)
		if err != nil {
			return EscrowResult{}, err
		}
		shares, err := crypto.SplitSecret(key, n, t)
		clear(key)
		if err != nil {
			return EscrowResult{}, err
		}
		msg.Classes = append(msg.Classes, consenttypes.ClassEpoch{DataClass: class, Epoch: kctx.Epoch})
		for i, s := range shares {
			cs := crypto.ClassShare{DataClass: class, Epoch: kctx.Epoch, Share: s}
			perCustodian[i] = append(perCustodian[i], cs)
			msg.Commitments = append(msg.Commitments, consenttypes.ShareCommitment{
				DataClass: class, Custodian: params.Custodians[i].Address, Hash: crypto.ShareCommitment(a.addr, params.Custodians[i].Address, cs),
			})
		}
	}
	for i, c := range params.Custodians {
		sealed, err := crypto.SealShares(c.EncryptionKey, perCustodian[i], crypto.EscrowContext(a.addr, c.Address, params.CustodianSetVersion))
		if err != nil {
			return EscrowResult{}, fmt.Errorf("seal the shares of custodian %s: %w", c.Address, err)
		}
		msg.Shares = append(msg.Shares, consenttypes.EscrowShare{Custodian: c.Address, Sealed: sealed})
	}
	if err := a.SendOne(ctx, msg, &consenttypes.MsgEscrowKeysResponse{}); err != nil {
		return EscrowResult{}, fmt.Errorf("the keys were not escrowed: %w", err)
	}
	return EscrowResult{SetVersion: params.CustodianSetVersion, Threshold: params.CustodianThreshold, Custodians: n, Classes: msg.Classes}, nil
}

// EscrowStatus reports the agent's (a patient's) escrow: nil if there is
// none, and whether it is stale or behind the current epochs (so the patient
// should escrow again).
func (a *Agent) EscrowStatus(ctx context.Context) (escrow *consenttypes.KeyEscrow, needsRenewal bool, err error) {
	resp, err := consenttypes.NewQueryClient(a.clientCtx).Escrow(ctx, &consenttypes.QueryEscrowRequest{Patient: a.addr})
	if status.Code(err) == codes.NotFound {
		return nil, true, nil
	} else if err != nil {
		return nil, false, err
	}
	epochs, err := CurrentEpochs(ctx, a.clientCtx, a.addr)
	if err != nil {
		return nil, false, err
	}
	behind := false
	for _, c := range resp.Escrow.Classes {
		behind = behind || c.Epoch != epochs[c.DataClass]
	}
	return &resp.Escrow, resp.Stale || behind, nil
}

// Release has the agent, a custodian, release its shares of the patient's
// escrowed class keys to the provider of emergency access access, sealed to
// the provider's published encryption key. The chain accepts it only while
// the access is live.
func (a *Agent) Release(ctx context.Context, access consenttypes.Consent) error {
	cq := consenttypes.NewQueryClient(a.clientCtx)
	er, err := cq.Escrow(ctx, &consenttypes.QueryEscrowRequest{Patient: access.Patient})
	if err != nil {
		return fmt.Errorf("the escrow of emergency access %d's patient: %w", access.Id, err)
	}
	if er.Stale {
		return fmt.Errorf("emergency access %d: the patient's escrow is for custodian set %d, the current one is %d: nothing to release",
			access.Id, er.Escrow.SetVersion, er.CurrentSetVersion)
	}
	var sealed []byte
	for _, s := range er.Escrow.Shares {
		if s.Custodian == a.addr {
			sealed = s.Sealed
		}
	}
	if sealed == nil {
		return fmt.Errorf("emergency access %d: %s holds no share of this escrow", access.Id, a.addr)
	}
	shares, err := crypto.OpenShares(a.priv, sealed, crypto.EscrowContext(access.Patient, a.addr, er.Escrow.SetVersion))
	if err != nil {
		return fmt.Errorf("emergency access %d: this custodian's shares do not open (is the keyring's encryption key the one in the custodian set?): %w",
			access.Id, err)
	}
	providerKey, err := PublishedKey(ctx, a.clientCtx, access.Grantee)
	if err != nil {
		return err
	}
	out, err := crypto.SealShares(providerKey, shares,
		crypto.ReleaseContext(access.Id, access.Patient, a.addr, access.Grantee, er.Escrow.EscrowedAt.UnixNano()))
	for _, s := range shares {
		clear(s.Share.Y)
	}
	if err != nil {
		return err
	}
	return a.SendOne(ctx, &consenttypes.MsgReleaseKeyShares{Custodian: a.addr, AccessId: access.Id, Sealed: out, EscrowedAt: er.Escrow.EscrowedAt},
		&consenttypes.MsgReleaseKeySharesResponse{})
}

// CustodianOptions configure ServeCustodian.
type CustodianOptions struct {
	// Interval between two looks at the live emergency accesses.
	Interval time.Duration
	// MaxPerProviderHour bounds the releases to one provider in an hour (0:
	// no bound): a provider key that breaks the glass for many patients at
	// once (stolen, or abused) gets the keys of a few, and the rest wait for
	// the consortium's review instead of being released within seconds.
	MaxPerProviderHour int
}

// ServeCustodian runs a custodian: every interval it lists the live emergency
// accesses and releases its shares for each that it has not released yet,
// whose patient has a current escrow and whose provider is active and within
// its hourly budget. It returns when ctx ends. What it cannot do (a stale or
// missing escrow, a chain error) it logs and tries again at the next round;
// the chain refuses anything not allowed.
func (a *Agent) ServeCustodian(ctx context.Context, opts CustodianOptions, log *slog.Logger) error {
	interval := opts.Interval
	done := map[uint64]bool{}          // accesses released (or found released)
	warned := map[uint64]bool{}        // accesses whose skip was logged once
	recent := map[string][]time.Time{} // releases per provider in the last hour
	cq := consenttypes.NewQueryClient(a.clientCtx)
	for {
		var live []consenttypes.Consent
		err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
			resp, err := cq.LiveEmergencyAccesses(ctx, &consenttypes.QueryLiveEmergencyAccessesRequest{Pagination: &query.PageRequest{Key: key}})
			if err != nil {
				return nil, false, err
			}
			live = append(live, resp.Consents...)
			return resp.Pagination, false, nil
		})
		if err != nil {
			log.Warn("cannot list the live emergency accesses", "err", err)
		}
		for _, c := range live {
			if done[c.Id] || c.Status != consenttypes.CONSENT_STATUS_ACTIVE || c.Review == consenttypes.REVIEW_STATE_ABUSIVE ||
				c.Grantee == a.addr {
				continue
			}
			if released, err := a.released(ctx, c); err != nil {
				log.Warn("cannot read the releases", "access", c.Id, "err", err)
				continue
			} else if released {
				done[c.Id] = true
				continue
			}
			if inactive, err := a.inactiveProvider(ctx, c.Grantee); err != nil || inactive {
				if !warned[c.Id] && inactive {
					log.Warn("not released: the provider is not active", "access", c.Id)
					warned[c.Id] = true
				}
				continue
			}
			hour := time.Now().Add(-time.Hour)
			recent[c.Grantee] = slices.DeleteFunc(recent[c.Grantee], func(t time.Time) bool { return t.Before(hour) })
			if opts.MaxPerProviderHour > 0 && len(recent[c.Grantee]) >= opts.MaxPerProviderHour {
				if !warned[c.Id] {
					log.Warn("held: the provider had its hourly budget of releases; waiting (or for the consortium's review)",
						"access", c.Id, "budget", opts.MaxPerProviderHour)
					warned[c.Id] = true
				}
				continue
			}
			if err := a.Release(ctx, c); err != nil {
				if !warned[c.Id] {
					log.Warn("not released", "access", c.Id, "err", err)
					warned[c.Id] = true
				}
				continue
			}
			recent[c.Grantee] = append(recent[c.Grantee], time.Now())
			done[c.Id] = true
			log.Info("released this custodian's key shares to an emergency access", "access", c.Id)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// released reports whether the agent already released its shares for c.
func (a *Agent) released(ctx context.Context, c consenttypes.Consent) (bool, error) {
	rels, err := a.Releases(ctx, c.Patient, c.Id)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(rels, func(r consenttypes.KeyRelease) bool { return r.Custodian == a.addr }), nil
}

// Releases lists the key releases of patient's emergency access access (0:
// of all).
func (a *Agent) Releases(ctx context.Context, patient string, access uint64) ([]consenttypes.KeyRelease, error) {
	cq := consenttypes.NewQueryClient(a.clientCtx)
	var out []consenttypes.KeyRelease
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := cq.KeyReleases(ctx, &consenttypes.QueryKeyReleasesRequest{Patient: patient, AccessId: access, Pagination: &query.PageRequest{Key: key}})
		if err != nil {
			return nil, false, err
		}
		out = append(out, resp.Releases...)
		return resp.Pagination, false, nil
	})
	return out, err
}

// ErrNotEscrowed is returned for a class the patient did not escrow: an
// emergency access cannot open it.
var ErrNotEscrowed = errors.New("not escrowed for emergencies")

// ErrWaitingForCustodians is returned while fewer custodians than the
// threshold have released their shares to the agent's emergency access.
var ErrWaitingForCustodians = errors.New("waiting for custodians")

// WaitingError says how many custodians released, of how many needed.
type WaitingError struct {
	Access           uint64
	Released, Needed int
	BadShares        []BadShare // shares set aside, and why
}

// BadShare is a custodian's release or share that was set aside: its release
// does not open (Class empty), or its share of Class does not match its
// commitment.
type BadShare struct {
	Custodian string
	Class     string
}

func (b BadShare) String() string {
	if b.Class == "" {
		return "the release of custodian " + b.Custodian + " does not open"
	}
	return "the " + b.Class + " share of custodian " + b.Custodian + " does not match its commitment"
}

func (e *WaitingError) Error() string {
	msg := fmt.Sprintf("emergency access %d: waiting for custodians (%d of %d released)", e.Access, e.Released, e.Needed)
	for _, b := range e.BadShares {
		msg += "; " + b.String()
	}
	return msg
}

func (e *WaitingError) Unwrap() error { return ErrWaitingForCustodians }

// emergencyClassKey returns the class key of (patient, class, epoch) from the
// custodians' releases to the agent's live emergency accesses to patient: it
// opens each release, checks every share against the commitment the patient
// put on chain, and combines a threshold of good shares. A share that does
// not match its commitment is set aside and named in the error if too few
// good ones remain.
func (a *Agent) emergencyClassKey(ctx context.Context, patient, class string, epoch uint64) ([]byte, error) {
	cq := consenttypes.NewQueryClient(a.clientCtx)
	var accesses []consenttypes.Consent
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := cq.EmergencyAccesses(ctx, &consenttypes.QueryEmergencyAccessesRequest{Patient: patient, Pagination: &query.PageRequest{Key: key}})
		if err != nil {
			return nil, false, err
		}
		accesses = append(accesses, resp.Consents...)
		return resp.Pagination, false, nil
	})
	if err != nil {
		return nil, err
	}
	var last error
	for i := len(accesses) - 1; i >= 0; i-- { // the newest first
		c := accesses[i]
		if c.Grantee != a.addr || c.Status != consenttypes.CONSENT_STATUS_ACTIVE {
			continue
		}
		key, err := a.combineReleases(ctx, c, class, epoch)
		if err == nil {
			return key, nil
		}
		last = err
	}
	if last == nil {
		last = fmt.Errorf("no live emergency access of yours to patient %s", patient)
	}
	return nil, last
}

// combineReleases combines the shares of class released to emergency access c.
func (a *Agent) combineReleases(ctx context.Context, c consenttypes.Consent, class string, epoch uint64) ([]byte, error) {
	rels, err := a.Releases(ctx, c.Patient, c.Id)
	if err != nil {
		return nil, err
	}
	threshold := 0
	if p, err := consenttypes.NewQueryClient(a.clientCtx).Params(ctx, &consenttypes.QueryParamsRequest{}); err == nil {
		threshold = int(p.Params.CustodianThreshold)
	}
	return combineReleaseShares(a.priv, a.addr, c, rels, class, epoch, threshold)
}

// combineReleaseShares opens the releases rels of emergency access c to me,
// sets aside every share of class that does not match the commitment copied
// into its release (naming its custodian), and combines the rest if they
// reach the threshold (the releases', or threshold if none was released).
// The key comes back at epoch (regressed from the escrowed one).
func combineReleaseShares(priv hpke.PrivateKey, me string, c consenttypes.Consent, rels []consenttypes.KeyRelease, class string,
	epoch uint64, threshold int,
) ([]byte, error) {
	werr := &WaitingError{Access: c.Id, Needed: threshold}
	// Shares combine only within one escrow (the patient may have escrowed
	// again between two releases): group them by it, and take the group with
	// the most good shares.
	type group struct {
		shares []crypto.Share
		epoch  uint64
		needed int
	}
	groups := map[int64]*group{}
	escrowed := false
	for _, r := range rels {
		for _, ce := range r.Classes {
			escrowed = escrowed || ce.DataClass == class
		}
		shares, err := crypto.OpenShares(priv, r.Sealed, crypto.ReleaseContext(c.Id, c.Patient, r.Custodian, me, r.EscrowedAt.UnixNano()))
		if err != nil {
			werr.BadShares = append(werr.BadShares, BadShare{Custodian: r.Custodian})
			continue
		}
		took := false // one share per class and release: a custodian repeating its share must not spoil the combination
		for _, s := range shares {
			if s.DataClass != class || took {
				continue
			}
			ok := false
			for _, cm := range r.Commitments {
				if cm.DataClass == class && cm.Custodian == r.Custodian && bytes.Equal(cm.Hash, crypto.ShareCommitment(c.Patient, r.Custodian, s)) {
					ok = true
				}
			}
			if !ok {
				werr.BadShares = append(werr.BadShares, BadShare{Custodian: r.Custodian, Class: class})
				continue
			}
			g := groups[r.EscrowedAt.UnixNano()]
			if g == nil {
				g = &group{epoch: s.Epoch, needed: int(r.Threshold)}
				groups[r.EscrowedAt.UnixNano()] = g
			}
			if !slices.ContainsFunc(g.shares, func(x crypto.Share) bool { return x.X == s.Share.X }) {
				g.shares = append(g.shares, s.Share)
			}
			took = true
		}
	}
	if len(rels) > 0 && !escrowed {
		return nil, fmt.Errorf("%w: emergency access %d: %s is not among the escrowed classes", ErrNotEscrowed, c.Id, class)
	}
	// a group that reaches its threshold wins (the newest, if several do:
	// ties are broken by escrow time, not map order); else the largest, to
	// say how far it is
	var best *group
	var bestAt int64
	for at, g := range groups {
		complete := len(g.shares) >= 2 && len(g.shares) >= g.needed
		bestComplete := best != nil && len(best.shares) >= 2 && len(best.shares) >= best.needed
		switch {
		case best == nil, complete && !bestComplete, complete == bestComplete && (len(g.shares) > len(best.shares) ||
			len(g.shares) == len(best.shares) && at > bestAt):
			best, bestAt = g, at
		}
	}
	var good []crypto.Share
	var escrowEpoch uint64
	if best != nil {
		good, escrowEpoch, werr.Needed = best.shares, best.epoch, best.needed
	}
	werr.Released = len(good)
	if len(good) < 2 || len(good) < werr.Needed {
		return nil, werr
	}
	key, err := crypto.CombineShares(good)
	for _, sh := range good {
		clear(sh.Y)
	}
	if err != nil {
		return nil, err
	}
	defer clear(key)
	if epoch > escrowEpoch {
		return nil, fmt.Errorf("emergency access %d: the escrowed %s key is for epoch %d, the record needs epoch %d "+
			"(the patient rotated the key and has not escrowed again)", c.Id, class, escrowEpoch, epoch)
	}
	return crypto.RegressClassKey(key, escrowEpoch, epoch)
}

// hasLiveEmergency reports whether the agent holds an active emergency access
// to patient.
func (a *Agent) hasLiveEmergency(ctx context.Context, patient string) bool {
	found := false
	_ = paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := consenttypes.NewQueryClient(a.clientCtx).ConsentsByPair(ctx, &consenttypes.QueryConsentsByPairRequest{
			Patient: patient, Grantee: a.addr, Pagination: &query.PageRequest{Key: key},
		})
		if err != nil {
			return nil, false, err
		}
		found = found || slices.ContainsFunc(resp.Consents, func(c consenttypes.Consent) bool {
			return c.Emergency && c.Status == consenttypes.CONSENT_STATUS_ACTIVE
		})
		return resp.Pagination, found, nil
	})
	return found
}

// RegisterPatient registers the agent's account as a patient with the
// encryption key it derives.
func (a *Agent) RegisterPatient(ctx context.Context) error {
	return a.SendOne(ctx, &consenttypes.MsgRegisterPatient{Patient: a.addr, EncryptionKey: a.EncryptionKey()},
		&consenttypes.MsgRegisterPatientResponse{})
}

// EnsureEscrow escrows the agent's (a patient's) emergency class keys if it
// has no escrow (the default classes), or escrows the same classes again if
// its escrow is stale or behind a rotation. A stale escrow (the custodian
// set changed) is rotated first: a removed custodian still holds its share of
// the old keys, and with the others' old ciphertexts (in the chain's history)
// could rebuild them. It returns nil when nothing was needed, and
// ErrNoCustodians when the chain has none.
func (a *Agent) EnsureEscrow(ctx context.Context) (*EscrowResult, error) {
	escrow, renew, err := a.EscrowStatus(ctx)
	if err != nil || !renew {
		return nil, err
	}
	var classes []string
	if escrow != nil {
		for _, c := range escrow.Classes {
			classes = append(classes, c.DataClass)
		}
		pr, err := consenttypes.NewQueryClient(a.clientCtx).Params(ctx, &consenttypes.QueryParamsRequest{})
		if err != nil {
			return nil, err
		}
		if escrow.SetVersion != pr.Params.CustodianSetVersion {
			if _, err := a.rotateOnly(ctx, classes); err != nil {
				return nil, fmt.Errorf("the custodian set changed: rotate the escrowed keys before escrowing them again: %w", err)
			}
		}
	}
	res, err := a.Escrow(ctx, classes)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// RenewEscrow escrows again, with the same classes, an escrow the agent (a
// patient) has that is stale or behind a rotation; nothing if it has none.
func (a *Agent) RenewEscrow(ctx context.Context) (*EscrowResult, error) {
	escrow, _, err := a.EscrowStatus(ctx)
	if err != nil || escrow == nil {
		return nil, err
	}
	return a.EnsureEscrow(ctx)
}
