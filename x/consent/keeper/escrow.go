package keeper

import (
	"context"
	"errors"
	"time"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	"github.com/healthd-chain/healthd/x/consent/types"
)

// EscrowKeys stores (replacing any earlier one) the patient's escrow of
// emergency class keys with the current custodian set. Only the patient signs
// it (the keys are derived from its key, which a delegate does not hold); each
// class must be at its current epoch; there must be one sealed share set per
// custodian, in the set's order, and one commitment per (class, custodian).
// The chain cannot open the shares: what it checks is their shape and that
// nobody but the patient speaks for the patient's keys.
func (s msgServer) EscrowKeys(ctx context.Context, msg *types.MsgEscrowKeys) (*types.MsgEscrowKeysResponse, error) {
	patient, err := s.decode(msg.Patient, "patient")
	if err != nil {
		return nil, err
	}
	signer, err := s.decode(msg.Signer, "signer")
	if err != nil {
		return nil, err
	}
	if !signer.Equals(patient) {
		return nil, errorsmod.Wrapf(types.ErrUnauthorized, "%s cannot escrow %s's keys: only the patient holds them", msg.Signer, msg.Patient)
	}
	if _, err := s.GetPatient(ctx, patient); err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	params, err := s.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	n := len(params.Custodians)
	if n == 0 {
		return nil, errorsmod.Wrap(types.ErrInvalidEscrow, "the chain has no custodians (params.custodians)")
	}
	if msg.SetVersion != params.CustodianSetVersion {
		return nil, errorsmod.Wrapf(types.ErrStaleEscrow, "made for custodian set %d, the current one is %d", msg.SetVersion, params.CustodianSetVersion)
	}
	if len(msg.Shares) != n {
		return nil, errorsmod.Wrapf(types.ErrInvalidEscrow, "%d share sets for %d custodians", len(msg.Shares), n)
	}
	for i, sh := range msg.Shares {
		if sh.Custodian != params.Custodians[i].Address {
			return nil, errorsmod.Wrapf(types.ErrInvalidEscrow, "share set %d is for %s, custodian %d is %s", i, sh.Custodian, i, params.Custodians[i].Address)
		}
	}
	for _, c := range msg.Classes {
		current, err := s.ClassKeyEpoch(ctx, patient, c.DataClass)
		if err != nil {
			return nil, err
		}
		if c.Epoch != current {
			return nil, errorsmod.Wrapf(types.ErrInvalidEscrow, "class %s at epoch %d: its current epoch is %d", c.DataClass, c.Epoch, current)
		}
	}
	if len(msg.Commitments) != len(msg.Classes)*n {
		return nil, errorsmod.Wrapf(types.ErrInvalidEscrow, "%d commitments, want %d (one per class and custodian)", len(msg.Commitments), len(msg.Classes)*n)
	}
	want := map[[2]string]bool{}
	for _, c := range msg.Classes {
		for _, cu := range params.Custodians {
			want[[2]string{c.DataClass, cu.Address}] = true
		}
	}
	for _, c := range msg.Commitments {
		k := [2]string{c.DataClass, c.Custodian}
		if !want[k] {
			return nil, errorsmod.Wrapf(types.ErrInvalidEscrow, "a commitment for %s/%s that is not wanted, or twice", c.DataClass, c.Custodian)
		}
		delete(want, k)
	}
	escrow := types.KeyEscrow{
		Patient: msg.Patient, SetVersion: msg.SetVersion, Threshold: params.CustodianThreshold,
		Classes: msg.Classes, Shares: msg.Shares, Commitments: msg.Commitments, EscrowedAt: blockTime(ctx),
	}
	if err := s.Escrows.Set(ctx, patient, escrow); err != nil {
		return nil, err
	}
	classes := make([]string, len(msg.Classes))
	for i, c := range msg.Classes {
		classes[i] = c.DataClass
	}
	if err := emit(ctx, &types.EventKeysEscrowed{Patient: msg.Patient, SetVersion: msg.SetVersion, DataClasses: classes}); err != nil {
		return nil, err
	}
	return &types.MsgEscrowKeysResponse{}, nil
}

// ReleaseKeyShares records a custodian's release of its shares of the
// patient's escrowed class keys to the provider of emergency access
// access_id. The chain accepts it only from a custodian of the current set,
// for an emergency access that is active now (not ended, revoked or judged
// abusive), never to the custodian itself, from an escrow of the current set,
// and once per (access, custodian).
func (s msgServer) ReleaseKeyShares(ctx context.Context, msg *types.MsgReleaseKeyShares) (*types.MsgReleaseKeySharesResponse, error) {
	custodian, err := s.decode(msg.Custodian, "custodian")
	if err != nil {
		return nil, err
	}
	params, err := s.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if params.CustodianIndex(msg.Custodian) < 0 {
		return nil, errorsmod.Wrapf(types.ErrNotCustodian, "%s", msg.Custodian)
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	c, err := s.GetConsent(ctx, msg.AccessId)
	if err != nil {
		return nil, err
	}
	if err := liveEmergency(ctx, c); err != nil {
		return nil, err
	}
	if c.Grantee == msg.Custodian {
		return nil, errorsmod.Wrap(types.ErrInvalidRelease, "a custodian cannot release shares to itself")
	}
	// A provider suspended meanwhile (an abusive review of another of its
	// emergency accesses, say) gets no keys, whatever access it still holds.
	provider, err := s.decode(c.Grantee, "provider")
	if err != nil {
		return nil, err
	}
	if active, err := s.providers.IsActive(ctx, provider); err != nil {
		return nil, err
	} else if !active {
		return nil, errorsmod.Wrapf(types.ErrProviderNotActive, "%s: no key shares for an inactive provider", c.Grantee)
	}
	patient, err := s.decode(c.Patient, "patient")
	if err != nil {
		return nil, err
	}
	escrow, err := s.Escrows.Get(ctx, patient)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, errorsmod.Wrapf(types.ErrNoEscrow, "patient %s", c.Patient)
	} else if err != nil {
		return nil, err
	}
	if escrow.SetVersion != params.CustodianSetVersion {
		return nil, errorsmod.Wrapf(types.ErrStaleEscrow, "patient %s escrowed for custodian set %d, the current one is %d",
			c.Patient, escrow.SetVersion, params.CustodianSetVersion)
	}
	if !msg.EscrowedAt.Equal(escrow.EscrowedAt) {
		return nil, errorsmod.Wrapf(types.ErrStaleEscrow, "the shares come from the escrow of %s; the patient escrowed again at %s",
			msg.EscrowedAt.UTC().Format(time.RFC3339Nano), escrow.EscrowedAt.UTC().Format(time.RFC3339Nano))
	}
	key := collections.Join3(patient, c.Id, custodian)
	if has, err := s.Releases.Has(ctx, key); err != nil {
		return nil, err
	} else if has {
		return nil, errorsmod.Wrapf(types.ErrAlreadyReleased, "custodian %s, emergency access %d", msg.Custodian, c.Id)
	}
	release := types.KeyRelease{
		AccessId: c.Id, Custodian: msg.Custodian, Patient: c.Patient, Provider: c.Grantee, SetVersion: escrow.SetVersion,
		Classes: escrow.Classes, Sealed: msg.Sealed, ReleasedAt: blockTime(ctx), Threshold: escrow.Threshold,
		EscrowedAt: escrow.EscrowedAt,
	}
	for _, cm := range escrow.Commitments {
		if cm.Custodian == msg.Custodian {
			release.Commitments = append(release.Commitments, cm)
		}
	}
	if err := s.Releases.Set(ctx, key, release); err != nil {
		return nil, err
	}
	classes := make([]string, len(escrow.Classes))
	for i, ce := range escrow.Classes {
		classes[i] = ce.DataClass
	}
	if err := emit(ctx, &types.EventKeySharesReleased{
		AccessId: c.Id, Patient: c.Patient, Provider: c.Grantee, Custodian: msg.Custodian, DataClasses: classes,
	}); err != nil {
		return nil, err
	}
	return &types.MsgReleaseKeySharesResponse{}, nil
}

// liveEmergency refuses a consent that is not an emergency access active at
// the block time.
func liveEmergency(ctx context.Context, c types.Consent) error {
	switch {
	case !c.Emergency:
		return errorsmod.Wrapf(types.ErrNotEmergency, "consent %d", c.Id)
	case c.Status != types.CONSENT_STATUS_ACTIVE:
		return errorsmod.Wrapf(types.ErrEmergencyNotLive, "emergency access %d is %s", c.Id, c.Status)
	case c.Review == types.REVIEW_STATE_ABUSIVE:
		return errorsmod.Wrapf(types.ErrEmergencyNotLive, "emergency access %d was judged abusive", c.Id)
	case !blockTime(ctx).Before(c.Period.End):
		return errorsmod.Wrapf(types.ErrEmergencyNotLive, "emergency access %d ended at %s", c.Id, c.Period.End)
	}
	return nil
}
