package keeper

import (
	"context"
	"slices"
	"time"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/internal/addrs"
	"github.com/healthd-chain/healthd/internal/modkit"
	"github.com/healthd-chain/healthd/x/consent/types"
)

type msgServer struct {
	Keeper
}

var _ types.MsgServer = msgServer{}

// NewMsgServerImpl returns the Msg service of x/consent.
func NewMsgServerImpl(k Keeper) types.MsgServer { return msgServer{Keeper: k} }

// Every handler follows the same order: decode addresses → authorize the signer →
// stateless checks → stateful checks → write → emit a typed event → respond.

// RegisterPatient registers the signer as a patient.
func (s msgServer) RegisterPatient(ctx context.Context, msg *types.MsgRegisterPatient) (*types.MsgRegisterPatientResponse, error) {
	patient, err := s.decode(msg.Patient, "patient")
	if err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	if has, err := s.Patients.Has(ctx, patient); err != nil {
		return nil, err
	} else if has {
		return nil, errorsmod.Wrapf(types.ErrPatientExists, "%s; use update-patient to rotate the key", msg.Patient)
	}
	profile := types.PatientProfile{
		Address: msg.Patient, EncryptionKey: msg.EncryptionKey, Delegates: []types.Delegate{}, RegisteredAt: blockTime(ctx),
	}
	if err := s.Patients.Set(ctx, patient, profile); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventPatientRegistered{Patient: msg.Patient}); err != nil {
		return nil, err
	}
	return &types.MsgRegisterPatientResponse{}, nil
}

// UpdatePatient rotates the patient's encryption key.
func (s msgServer) UpdatePatient(ctx context.Context, msg *types.MsgUpdatePatient) (*types.MsgUpdatePatientResponse, error) {
	patient, err := s.decode(msg.Patient, "patient")
	if err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	profile, err := s.GetPatient(ctx, patient)
	if err != nil {
		return nil, err
	}
	profile.EncryptionKey = msg.EncryptionKey
	if err := s.Patients.Set(ctx, patient, profile); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventPatientKeyRotated{Patient: msg.Patient}); err != nil {
		return nil, err
	}
	return &types.MsgUpdatePatientResponse{}, nil
}

// AddDelegate adds a delegate, or changes an existing delegate's expiry. Expired
// delegations are dropped first, so they do not hold slots.
func (s msgServer) AddDelegate(ctx context.Context, msg *types.MsgAddDelegate) (*types.MsgAddDelegateResponse, error) {
	patient, err := s.decode(msg.Patient, "patient")
	if err != nil {
		return nil, err
	}
	if _, err := s.decode(msg.Delegate, "delegate"); err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	profile, err := s.GetPatient(ctx, patient)
	if err != nil {
		return nil, err
	}
	now := blockTime(ctx)
	if !msg.ExpiresAt.After(now) {
		return nil, errorsmod.Wrap(types.ErrInvalidDelegate, "the expiry must be after the block time")
	}
	live := profile.Delegates[:0]
	found := false
	for _, d := range profile.Delegates {
		if d.Address == msg.Delegate {
			d.ExpiresAt = msg.ExpiresAt.UTC()
			found = true
		}
		if now.Before(d.ExpiresAt) {
			live = append(live, d)
		}
	}
	if !found {
		if len(live) >= types.MaxDelegates {
			return nil, errorsmod.Wrapf(types.ErrTooManyDelegates, "at most %d live delegates", types.MaxDelegates)
		}
		live = append(live, types.Delegate{Address: msg.Delegate, ExpiresAt: msg.ExpiresAt.UTC()})
	}
	profile.Delegates = live
	if err := s.Patients.Set(ctx, patient, profile); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventDelegateAdded{Patient: msg.Patient, Delegate: msg.Delegate, ExpiresAt: msg.ExpiresAt.UTC()}); err != nil {
		return nil, err
	}
	return &types.MsgAddDelegateResponse{}, nil
}

// RemoveDelegate removes a delegate.
func (s msgServer) RemoveDelegate(ctx context.Context, msg *types.MsgRemoveDelegate) (*types.MsgRemoveDelegateResponse, error) {
	patient, err := s.decode(msg.Patient, "patient")
	if err != nil {
		return nil, err
	}
	if _, err := s.decode(msg.Delegate, "delegate"); err != nil {
		return nil, err
	}
	profile, err := s.GetPatient(ctx, patient)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(profile.Delegates, func(d types.Delegate) bool { return d.Address == msg.Delegate })
	if i < 0 {
		return nil, errorsmod.Wrapf(types.ErrDelegateNotFound, "%s", msg.Delegate)
	}
	profile.Delegates = slices.Delete(profile.Delegates, i, i+1)
	if err := s.Patients.Set(ctx, patient, profile); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventDelegateRemoved{Patient: msg.Patient, Delegate: msg.Delegate}); err != nil {
		return nil, err
	}
	return &types.MsgRemoveDelegateResponse{}, nil
}

// GrantConsent grants a consent.
func (s msgServer) GrantConsent(ctx context.Context, msg *types.MsgGrantConsent) (*types.MsgGrantConsentResponse, error) {
	signer, err := s.decode(msg.Signer, "signer")
	if err != nil {
		return nil, err
	}
	patientStr := msg.Patient
	if patientStr == "" {
		patientStr = msg.Signer
	}
	patient, err := s.decode(patientStr, "patient")
	if err != nil {
		return nil, err
	}
	grantee, err := s.decode(msg.Grantee, "grantee")
	if err != nil {
		return nil, err
	}
	if err := s.authorizeForPatient(ctx, msg.Signer, patient); err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}

	if len(msg.KeyGrants) > 0 && !patient.Equals(signer) {
		return nil, errorsmod.Wrap(types.ErrUnauthorized, "only the patient may attach key grants: a consent a delegate "+
			"grants carries no keys (the patient adds them with a consent of her own)")
	}

	if patient.Equals(grantee) {
		return nil, errorsmod.Wrap(types.ErrInvalidGrantee, "a patient does not need a consent for its own data")
	}
	if err := s.checkGrantee(ctx, grantee); err != nil {
		return nil, err
	}
	if err := s.checkGrantsAgainstState(ctx, patient, msg.DataClasses, msg.KeyGrants, nil); err != nil {
		return nil, err
	}
	params, err := s.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	now := blockTime(ctx)
	start := msg.Start.UTC()
	// A client that means "now" signs its own clock, and the block that
	// includes the transaction comes later: a start at most MaxStartSkew
	// before the block time is the block time.
	if msg.Start.IsZero() || start.Before(now) && !start.Before(now.Add(-types.MaxStartSkew)) {
		start = now
	}
	if start.Before(now) {
		return nil, errorsmod.Wrapf(types.ErrInvalidPeriod, "the start is more than %s before the block time "+
			"(leave it empty to start now)", types.MaxStartSkew)
	}
	if start.After(now.Add(params.MaxConsentDuration)) {
		return nil, errorsmod.Wrapf(types.ErrInvalidPeriod, "the start is more than max_consent_duration %s ahead", params.MaxConsentDuration)
	}
	if msg.Duration > params.MaxConsentDuration {
		return nil, errorsmod.Wrapf(types.ErrInvalidPeriod, "duration %s exceeds max_consent_duration %s", msg.Duration, params.MaxConsentDuration)
	}
	end := start.Add(msg.Duration)
	if !patient.Equals(signer) {
		// A delegate acts for the patient only while the delegation lasts, and
		// never to its own benefit.
		if grantee.Equals(signer) {
			return nil, errorsmod.Wrap(types.ErrUnauthorized, "a delegate cannot grant a consent to itself")
		}
		profile, err := s.GetPatient(ctx, patient)
		if err != nil {
			return nil, err
		}
		for _, d := range profile.Delegates {
			if d.Address == msg.Signer && end.After(d.ExpiresAt) {
				return nil, errorsmod.Wrapf(types.ErrInvalidPeriod, "a delegate's grant must end by the delegation's expiry %s", d.ExpiresAt.Format(time.RFC3339))
			}
		}
	}

	id, err := s.ConsentSeq.Next(ctx)
	if err != nil {
		return nil, err
	}
	c := types.Consent{
		Id:          id,
		Patient:     patientStr,
		Grantee:     msg.Grantee,
		Permissions: msg.Permissions,
		DataClasses: msg.DataClasses,
		Purposes:    msg.Purposes,
		Period:      types.Period{Start: start, End: end},
		DataPeriod:  msg.DataPeriod,
		Status:      types.CONSENT_STATUS_ACTIVE,
		KeyGrants:   msg.KeyGrants,
		CreatedAt:   now,
		GrantedBy:   msg.Signer,
	}
	if err := s.insert(ctx, c); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventConsentGranted{
		Id: id, Patient: c.Patient, Grantee: c.Grantee, Signer: msg.Signer, DataClasses: c.DataClasses, End: c.Period.End,
	}); err != nil {
		return nil, err
	}
	return &types.MsgGrantConsentResponse{Id: id}, nil
}

// RevokeConsent revokes a consent. Signed by the patient, it also rotates the
// class keys the consent carried and may replace the key grants of the
// patient's other consents (key rotation); signed by a delegate, it only
// revokes (a delegate can neither move epochs nor place keys).
func (s msgServer) RevokeConsent(ctx context.Context, msg *types.MsgRevokeConsent) (*types.MsgRevokeConsentResponse, error) {
	signer, err := s.decode(msg.Signer, "signer")
	if err != nil {
		return nil, err
	}
	c, err := s.GetConsent(ctx, msg.ConsentId)
	if err != nil {
		return nil, err
	}
	patient, err := s.decode(c.Patient, "patient")
	if err != nil {
		return nil, err
	}
	if err := s.authorizeForPatient(ctx, msg.Signer, patient); err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}

	byPatient := patient.Equals(signer)
	if len(msg.RotatedKeyGrants) > 0 && !byPatient {
		return nil, errorsmod.Wrap(types.ErrUnauthorized, "only the patient may replace key grants")
	}

	now := blockTime(ctx)
	if c.Status != types.CONSENT_STATUS_ACTIVE || !now.Before(c.Period.End) {
		return nil, errorsmod.Wrapf(types.ErrNotActive, "consent %d is %s", c.Id, view(c, now).Status)
	}
	// A consent that carried key grants gave its grantee the class keys of its
	// classes: revoked by the patient, those keys move to a new epoch (up to
	// the last one clients can derive), and new records must use it.
	var rotatedClasses []string
	if byPatient && len(c.KeyGrants) > 0 {
		if rotatedClasses, err = s.rotatableClasses(ctx, patient, c.DataClasses); err != nil {
			return nil, err
		}
	}
	rotated, err := s.rekeyed(ctx, patient, c.Patient, msg.RotatedKeyGrants, rotatedClasses)
	if err != nil {
		return nil, err
	}

	if err := s.end(ctx, c, types.CONSENT_STATUS_REVOKED); err != nil {
		return nil, err
	}
	if err := s.rotateClassKeys(ctx, patient, rotatedClasses); err != nil {
		return nil, err
	}
	for _, other := range rotated {
		if err := s.Consents.Set(ctx, other.Id, other); err != nil {
			return nil, err
		}
	}
	if err := emit(ctx, &types.EventConsentRevoked{
		Id: c.Id, Patient: c.Patient, Grantee: c.Grantee, Signer: msg.Signer, RotatedClasses: rotatedClasses,
	}); err != nil {
		return nil, err
	}
	return &types.MsgRevokeConsentResponse{}, nil
}

// rekeyed checks the key-grant updates of a rotation of patient's
// rotatedClasses and returns the consents with their new grants: each must be
// a live consent of the patient, and its grants must name its classes at
// epochs the chain allows (the rotated ones at their next epoch).
func (s msgServer) rekeyed(ctx context.Context, patient sdk.AccAddress, patientAddr string, updates []types.KeyGrantUpdate,
	rotatedClasses []string,
) ([]types.Consent, error) {
	now := blockTime(ctx)
	rotated := make([]types.Consent, 0, len(updates))
	for _, r := range updates {
		other, err := s.GetConsent(ctx, r.ConsentId)
		if err != nil {
			return nil, err
		}
		// Key grants go to the patient's other consents still in force or to come.
		if other.Patient != patientAddr || other.Status != types.CONSENT_STATUS_ACTIVE || !now.Before(other.Period.End) {
			return nil, errorsmod.Wrapf(types.ErrInvalidKeyGrant, "consent %d is not a live consent of the same patient", r.ConsentId)
		}
		if err := s.checkGrantsAgainstState(ctx, patient, other.DataClasses, r.KeyGrants, rotatedClasses); err != nil {
			return nil, errorsmod.Wrapf(err, "consent %d", r.ConsentId)
		}
		other.KeyGrants = r.KeyGrants
		rotated = append(rotated, other)
	}
	return rotated, nil
}

// RotateClassKeys moves the patient's class keys of msg.DataClasses to their
// next epoch (those not at the last one), with the key grants that give the
// patient's live grantees the new keys in the same transaction.
func (s msgServer) RotateClassKeys(ctx context.Context, msg *types.MsgRotateClassKeys) (*types.MsgRotateClassKeysResponse, error) {
	patient, err := s.decode(msg.Patient, "patient")
	if err != nil {
		return nil, err
	}
	if _, err := s.GetPatient(ctx, patient); err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	classes, err := s.rotatableClasses(ctx, patient, msg.DataClasses)
	if err != nil {
		return nil, err
	}
	if len(classes) != len(msg.DataClasses) {
		return nil, errorsmod.Wrapf(types.ErrInvalidDataClass, "some of %v are at the last key epoch (%d): they cannot rotate",
			msg.DataClasses, crypto.MaxKeyEpoch)
	}
	rotated, err := s.rekeyed(ctx, patient, msg.Patient, msg.RotatedKeyGrants, classes)
	if err != nil {
		return nil, err
	}
	if err := s.rotateClassKeys(ctx, patient, classes); err != nil {
		return nil, err
	}
	for _, other := range rotated {
		if err := s.Consents.Set(ctx, other.Id, other); err != nil {
			return nil, err
		}
	}
	if err := emit(ctx, &types.EventClassKeysRotated{Patient: msg.Patient, RotatedClasses: classes}); err != nil {
		return nil, err
	}
	return &types.MsgRotateClassKeysResponse{}, nil
}

// BreakGlass opens an emergency access: a consent for the provider, on every data
// class, read and write, for ETREAT only, for at most max_emergency_duration.
func (s msgServer) BreakGlass(ctx context.Context, msg *types.MsgBreakGlass) (*types.MsgBreakGlassResponse, error) {
	provider, err := s.decode(msg.Provider, "provider")
	if err != nil {
		return nil, err
	}
	patient, err := s.decode(msg.Patient, "patient")
	if err != nil {
		return nil, err
	}
	if active, err := s.providers.IsActive(ctx, provider); err != nil {
		return nil, err
	} else if !active {
		return nil, errorsmod.Wrapf(types.ErrProviderNotActive, "%s: only an active provider can break the glass", msg.Provider)
	}
	if params, err := s.Params.Get(ctx); err != nil {
		return nil, err
	} else if params.CustodianIndex(msg.Provider) >= 0 {
		return nil, errorsmod.Wrapf(types.ErrUnauthorized, "%s is an emergency key custodian: custodians do not break the glass", msg.Provider)
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.GetPatient(ctx, patient); err != nil {
		return nil, err
	}
	params, err := s.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if msg.Duration > params.MaxEmergencyDuration {
		return nil, errorsmod.Wrapf(types.ErrInvalidEmergency, "duration %s exceeds max_emergency_duration %s", msg.Duration, params.MaxEmergencyDuration)
	}

	id, err := s.ConsentSeq.Next(ctx)
	if err != nil {
		return nil, err
	}
	now := blockTime(ctx)
	c := types.Consent{
		Id:              id,
		Patient:         msg.Patient,
		Grantee:         msg.Provider,
		Permissions:     slices.Clone(types.Permissions),
		DataClasses:     slices.Clone(types.DataClasses),
		Purposes:        []string{types.PurposeEmergency},
		Period:          types.Period{Start: now, End: now.Add(msg.Duration)},
		Status:          types.CONSENT_STATUS_ACTIVE,
		Emergency:       true,
		CreatedAt:       now,
		GrantedBy:       msg.Provider,
		EmergencyReason: msg.Reason,
		EmergencyNote:   msg.Note,
		Review:          types.REVIEW_STATE_PENDING,
	}
	if err := s.insert(ctx, c); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventEmergencyAccessStarted{
		Id: id, Patient: msg.Patient, Provider: msg.Provider, Reason: msg.Reason, End: c.Period.End,
	}); err != nil {
		return nil, err
	}
	return &types.MsgBreakGlassResponse{Id: id}, nil
}

// ReviewEmergencyAccess records the verdict on an emergency access. Abusive ends
// the access at once and suspends the provider through x/providers.
func (s msgServer) ReviewEmergencyAccess(ctx context.Context, msg *types.MsgReviewEmergencyAccess) (*types.MsgReviewEmergencyAccessResponse, error) {
	reviewer, err := s.decode(msg.Reviewer, "reviewer")
	if err != nil {
		return nil, err
	}
	ok, err := s.providers.IsRegistrarOrAuthority(ctx, reviewer)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorsmod.Wrapf(types.ErrUnauthorized, "%s is neither a registrar nor the governance authority", msg.Reviewer)
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	c, err := s.GetConsent(ctx, msg.ConsentId)
	if err != nil {
		return nil, err
	}
	if !c.Emergency {
		return nil, errorsmod.Wrapf(types.ErrNotEmergency, "consent %d", c.Id)
	}
	provider, err := s.decode(c.Grantee, "provider")
	if err != nil {
		return nil, err
	}
	if provider.Equals(reviewer) {
		return nil, errorsmod.Wrap(types.ErrUnauthorized, "nobody reviews its own emergency access")
	}
	if c.Review != types.REVIEW_STATE_PENDING {
		return nil, errorsmod.Wrapf(types.ErrAlreadyReviewed, "consent %d is %s", c.Id, c.Review)
	}

	c.Review = msg.Verdict
	if msg.Verdict == types.REVIEW_STATE_ABUSIVE && c.Status == types.CONSENT_STATUS_ACTIVE && blockTime(ctx).Before(c.Period.End) {
		if err := s.end(ctx, c, types.CONSENT_STATUS_REVOKED); err != nil {
			return nil, err
		}
		if err := emit(ctx, &types.EventConsentRevoked{Id: c.Id, Patient: c.Patient, Grantee: c.Grantee, Signer: msg.Reviewer}); err != nil {
			return nil, err
		}
	} else if err := s.Consents.Set(ctx, c.Id, c); err != nil {
		return nil, err
	}
	if msg.Verdict == types.REVIEW_STATE_ABUSIVE {
		if err := s.providers.SuspendForEmergencyAbuse(ctx, provider, reviewer); err != nil {
			return nil, err
		}
	}
	if err := emit(ctx, &types.EventEmergencyAccessReviewed{Id: c.Id, Reviewer: msg.Reviewer, Provider: c.Grantee, Verdict: msg.Verdict}); err != nil {
		return nil, err
	}
	return &types.MsgReviewEmergencyAccessResponse{}, nil
}

// UpdateParams replaces the parameters; governance only.
func (s msgServer) UpdateParams(ctx context.Context, msg *types.MsgUpdateParams) (*types.MsgUpdateParamsResponse, error) {
	authority, err := s.decode(msg.Authority, "authority")
	if err != nil {
		return nil, err
	}
	if err := modkit.RequireAuthority(s.addressCodec, s.authority, authority, types.ErrUnauthorized); err != nil {
		return nil, err
	}
	if err := msg.Params.Validate(); err != nil {
		return nil, err
	}
	for _, c := range msg.Params.Custodians {
		addr, err := s.decode(c.Address, "custodian")
		if err != nil {
			return nil, err
		}
		// A custodian that could break the glass would need one share fewer
		// from the others.
		if isProvider, err := s.providers.IsProvider(ctx, addr); err != nil {
			return nil, err
		} else if isProvider {
			return nil, errorsmod.Wrapf(types.ErrInvalidParams, "custodian %s is a provider: custodians must not be able to break the glass", c.Address)
		}
	}
	old, err := s.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	// The chain keeps the custodian set's version: a change of custodians or
	// threshold makes every earlier escrow stale.
	params := msg.Params
	params.CustodianSetVersion = old.CustodianSetVersion
	changed := !params.SameCustodianSet(old)
	if changed {
		params.CustodianSetVersion++
	}
	if err := s.Params.Set(ctx, params); err != nil {
		return nil, err
	}
	if changed {
		addrs := make([]string, len(params.Custodians))
		for i, c := range params.Custodians {
			addrs[i] = c.Address
		}
		if err := emit(ctx, &types.EventCustodianSetChanged{
			SetVersion: params.CustodianSetVersion, Threshold: params.CustodianThreshold, Custodians: addrs,
		}); err != nil {
			return nil, err
		}
	}
	return &types.MsgUpdateParamsResponse{}, nil
}

// insert stores a new active consent and queues its expiry.
func (k Keeper) insert(ctx context.Context, c types.Consent) error {
	if err := k.Consents.Set(ctx, c.Id, c); err != nil {
		return err
	}
	if c.Emergency {
		if err := k.LiveEmergencies.Set(ctx, c.Id); err != nil {
			return err
		}
	}
	return k.ExpiryQueue.Set(ctx, QueueKey(c))
}

// end moves an active consent to revoked or expired, takes it off the expiry
// queue, and emits the stop event of an emergency access.
func (k Keeper) end(ctx context.Context, c types.Consent, status types.ConsentStatus) error {
	c.Status = status
	if status == types.CONSENT_STATUS_REVOKED {
		c.RevokedAt = blockTime(ctx)
	}
	if err := k.Consents.Set(ctx, c.Id, c); err != nil {
		return err
	}
	if err := k.ExpiryQueue.Remove(ctx, QueueKey(c)); err != nil {
		return err
	}
	if c.Emergency {
		if err := k.LiveEmergencies.Remove(ctx, c.Id); err != nil {
			return err
		}
		return emit(ctx, &types.EventEmergencyAccessEnded{Id: c.Id, Patient: c.Patient, Provider: c.Grantee, Status: status})
	}
	return nil
}

// authorizeForPatient checks that signer is the patient or a live delegate of the
// (registered) patient: IsPatientOrLiveDelegate, as an error.
func (s msgServer) authorizeForPatient(ctx context.Context, signer string, patient sdk.AccAddress) error {
	signerBz, err := s.addressCodec.StringToBytes(signer)
	if err != nil {
		return err
	}
	if ok, err := s.IsPatientOrLiveDelegate(ctx, patient, signerBz); err != nil || ok {
		return err
	}
	return errorsmod.Wrapf(types.ErrUnauthorized, "%s is neither the patient nor a live delegate of it", signer)
}

// checkGrantsAgainstState checks key grants for a consent of patient on
// classes: each is for one of those classes, at an epoch no later than the
// patient's current one for it (the next one for a class in rotating, which
// this transaction moves on). A grant for a later epoch would make writers
// encrypt under a key the patient's records never used.
func (s msgServer) checkGrantsAgainstState(ctx context.Context, patient sdk.AccAddress, classes []string, grants [][]byte, rotating []string) error {
	for i, g := range grants {
		class, epoch, _ := crypto.GrantLabel(g) // the layout was checked by Validate
		if !slices.Contains(classes, class) {
			return errorsmod.Wrapf(types.ErrInvalidKeyGrant, "key grant %d is for %s, which the consent does not cover", i, class)
		}
		current, err := s.ClassKeyEpoch(ctx, patient, class)
		if err != nil {
			return err
		}
		if slices.Contains(rotating, class) {
			current++
		}
		if epoch > current {
			return errorsmod.Wrapf(types.ErrInvalidKeyGrant, "key grant %d is for %s epoch %d, but the patient's current epoch is %d",
				i, class, epoch, current)
		}
	}
	return nil
}

// checkGrantee checks that grantee is an active provider or a registered patient.
func (s msgServer) checkGrantee(ctx context.Context, grantee sdk.AccAddress) error {
	isProvider, err := s.providers.IsProvider(ctx, grantee)
	if err != nil {
		return err
	}
	if isProvider {
		if active, err := s.providers.IsActive(ctx, grantee); err != nil {
			return err
		} else if !active {
			return errorsmod.Wrapf(types.ErrInvalidGrantee, "%s is a provider that is not active", grantee)
		}
		return nil
	}
	if has, err := s.Patients.Has(ctx, grantee); err != nil {
		return err
	} else if !has {
		return errorsmod.Wrapf(types.ErrInvalidGrantee, "%s is neither a provider nor a registered patient", grantee)
	}
	return nil
}

// decode turns a bech32 address into bytes, or returns ErrInvalidAddress.
func (s msgServer) decode(addr, field string) (sdk.AccAddress, error) {
	return addrs.DecodeField(s.addressCodec, addr, field, types.ErrInvalidAddress)
}

func emit(ctx context.Context, ev sdk.Msg) error { return modkit.Emit(ctx, ev) }

// QueueKey is a consent's key in the expiry queue: its end rounded up to the
// whole second (Unix seconds never overflow; nanoseconds would after 2262), so a
// consent is never marked expired before its end. Between the end and the next
// whole second CheckAccess already denies it.
func QueueKey(c types.Consent) collections.Pair[int64, uint64] {
	end := c.Period.End.Unix()
	if c.Period.End.Nanosecond() > 0 {
		end++
	}
	return collections.Join(end, c.Id)
}
