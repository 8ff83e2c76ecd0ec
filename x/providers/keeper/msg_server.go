package keeper

import (
	"bytes"
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/internal/addrs"
	"github.com/healthd-chain/healthd/internal/modkit"
	"github.com/healthd-chain/healthd/x/providers/types"
)

type msgServer struct {
	Keeper
}

var _ types.MsgServer = msgServer{}

// NewMsgServerImpl returns the Msg service of the registry.
func NewMsgServerImpl(k Keeper) types.MsgServer { return msgServer{Keeper: k} }

// Every handler follows the same order: decode addresses → authorize the signer →
// stateless checks → stateful checks → write → emit a typed event → respond.

// ApplyProvider registers the signer as a pending provider or updates its pending
// application.
func (s msgServer) ApplyProvider(ctx context.Context, msg *types.MsgApplyProvider) (*types.MsgApplyProviderResponse, error) {
	applicant, err := s.decode(msg.Applicant, "applicant")
	if err != nil {
		return nil, err
	}
	// The signer is the applicant (cosmos.msg.v1.signer): nothing more to authorize.
	if err := msg.Validate(); err != nil {
		return nil, err
	}

	now := sdk.UnwrapSDKContext(ctx).BlockTime()
	p, err := s.Providers.Get(ctx, applicant)
	switch {
	case errors.Is(err, collections.ErrNotFound):
		p = types.Provider{Address: msg.Applicant, RegisteredAt: now}
	case err != nil:
		return nil, err
	case p.Status == types.PROVIDER_STATUS_REVOKED:
		return nil, errorsmod.Wrapf(types.ErrRevoked, "%s cannot apply again", msg.Applicant)
	case p.Status != types.PROVIDER_STATUS_PENDING:
		return nil, errorsmod.Wrapf(types.ErrAlreadyRegistered, "%s is %s; use update-provider to change it", msg.Applicant, p.Status)
	}
	p.Name = msg.Name
	p.Kind = msg.Kind
	p.LicenseId = msg.LicenseId
	p.Jurisdiction = msg.Jurisdiction
	p.EncryptionKey = msg.EncryptionKey
	p.VaultEndpoint = msg.VaultEndpoint
	p.CredentialHash = msg.CredentialHash
	p.Status = types.PROVIDER_STATUS_PENDING
	p.UpdatedAt = now
	if err := s.Providers.Set(ctx, applicant, p); err != nil {
		return nil, err
	}

	if err := modkit.Emit(ctx, &types.EventProviderApplied{
		Address: msg.Applicant, Kind: msg.Kind,
	}); err != nil {
		return nil, err
	}
	return &types.MsgApplyProviderResponse{Status: p.Status}, nil
}

// ApproveProvider activates a pending provider, or renews the credential of an
// active provider that asked for it.
func (s msgServer) ApproveProvider(ctx context.Context, msg *types.MsgApproveProvider) (*types.MsgApproveProviderResponse, error) {
	approver, err := s.decode(msg.Approver, "approver")
	if err != nil {
		return nil, err
	}
	provider, err := s.decode(msg.Provider, "provider")
	if err != nil {
		return nil, err
	}
	if err := s.authorizeRegistrar(ctx, approver, provider); err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}

	p, err := s.GetProvider(ctx, provider)
	if err != nil {
		return nil, err
	}
	renewal := p.Status == types.PROVIDER_STATUS_ACTIVE && p.RenewalRequested
	if p.Status != types.PROVIDER_STATUS_PENDING && !renewal {
		return nil, errorsmod.Wrapf(types.ErrInvalidTransition,
			"%s is %s: only a pending provider, or an active one that requested renewal, can be approved", msg.Provider, p.Status)
	}
	// The approval names the credential it reviewed: an application rewritten
	// since (up to the approval's own block) is not approved by it.
	if !bytes.Equal(msg.CredentialHash, p.CredentialHash) {
		return nil, errorsmod.Wrapf(types.ErrCredentialMismatch, "%s's credential hash is now %x: review it again",
			msg.Provider, p.CredentialHash)
	}
	params, err := s.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	now := sdk.UnwrapSDKContext(ctx).BlockTime()
	if !msg.CredentialExpiresAt.After(now) || msg.CredentialExpiresAt.After(now.Add(params.MaxCredentialValidity)) {
		return nil, errorsmod.Wrapf(types.ErrInvalidExpiry, "%s: must be after the block time %s and at most %s after it",
			msg.CredentialExpiresAt.UTC().Format("2006-01-02T15:04:05Z"), now.UTC().Format("2006-01-02T15:04:05Z"), params.MaxCredentialValidity)
	}

	p.Status = types.PROVIDER_STATUS_ACTIVE
	p.CredentialExpiresAt = msg.CredentialExpiresAt.UTC()
	p.RenewalRequested = false
	p.UpdatedAt = now
	if err := s.Providers.Set(ctx, provider, p); err != nil {
		return nil, err
	}

	if err := modkit.Emit(ctx, &types.EventProviderApproved{
		Address: msg.Provider, Approver: msg.Approver, CredentialExpiresAt: p.CredentialExpiresAt,
	}); err != nil {
		return nil, err
	}
	return &types.MsgApproveProviderResponse{}, nil
}

// SetProviderStatus suspends, revokes or reinstates a provider.
func (s msgServer) SetProviderStatus(ctx context.Context, msg *types.MsgSetProviderStatus) (*types.MsgSetProviderStatusResponse, error) {
	authority, err := s.decode(msg.Authority, "authority")
	if err != nil {
		return nil, err
	}
	provider, err := s.decode(msg.Provider, "provider")
	if err != nil {
		return nil, err
	}
	if err := s.authorizeRegistrar(ctx, authority, provider); err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}

	p, err := s.GetProvider(ctx, provider)
	if err != nil {
		return nil, err
	}
	if p.Status == types.PROVIDER_STATUS_REVOKED {
		return nil, errorsmod.Wrapf(types.ErrRevoked, "%s: revocation is final", msg.Provider)
	}
	if !statusTransitionAllowed(p.Status, msg.Status) {
		return nil, errorsmod.Wrapf(types.ErrInvalidTransition, "%s → %s", p.Status, msg.Status)
	}

	from := p.Status
	p.Status = msg.Status
	p.StatusReason = msg.Reason
	p.UpdatedAt = sdk.UnwrapSDKContext(ctx).BlockTime()
	if err := s.Providers.Set(ctx, provider, p); err != nil {
		return nil, err
	}

	if err := modkit.Emit(ctx, &types.EventProviderStatusChanged{
		Address: msg.Provider, Actor: msg.Authority, From: from, To: msg.Status, Reason: msg.Reason,
	}); err != nil {
		return nil, err
	}
	return &types.MsgSetProviderStatusResponse{}, nil
}

// UpdateProvider changes the signer's own entry.
func (s msgServer) UpdateProvider(ctx context.Context, msg *types.MsgUpdateProvider) (*types.MsgUpdateProviderResponse, error) {
	provider, err := s.decode(msg.Provider, "provider")
	if err != nil {
		return nil, err
	}
	// The signer is the provider (cosmos.msg.v1.signer): nothing more to authorize.
	if err := msg.Validate(); err != nil {
		return nil, err
	}

	p, err := s.GetProvider(ctx, provider)
	if err != nil {
		return nil, err
	}
	if p.Status == types.PROVIDER_STATUS_REVOKED {
		return nil, errorsmod.Wrapf(types.ErrRevoked, "%s cannot be updated", msg.Provider)
	}
	now := sdk.UnwrapSDKContext(ctx).BlockTime()
	var fields []string
	identityChanged := false // name or credential: what the registrar approved
	if msg.Name != "" && msg.Name != p.Name {
		p.Name = msg.Name
		fields = append(fields, "name")
		identityChanged = true
	}
	if msg.VaultEndpoint != "" && msg.VaultEndpoint != p.VaultEndpoint {
		p.VaultEndpoint = msg.VaultEndpoint
		fields = append(fields, "vault_endpoint")
	}
	keyRotated := len(msg.EncryptionKey) > 0 && !bytes.Equal(msg.EncryptionKey, p.EncryptionKey)
	if keyRotated {
		if len(p.PreviousKeys) >= types.MaxPreviousKeys {
			return nil, errorsmod.Wrapf(types.ErrTooManyKeys, "%s already has %d retired keys", msg.Provider, len(p.PreviousKeys))
		}
		p.PreviousKeys = append(p.PreviousKeys, types.RetiredKey{Key: p.EncryptionKey, RetiredAt: now})
		p.EncryptionKey = msg.EncryptionKey
		fields = append(fields, "encryption_key")
	}
	if len(msg.CredentialHash) > 0 && !bytes.Equal(msg.CredentialHash, p.CredentialHash) {
		p.CredentialHash = msg.CredentialHash
		fields = append(fields, "credential_hash")
		identityChanged = true
	}
	if identityChanged && p.Status == types.PROVIDER_STATUS_SUSPENDED {
		return nil, errorsmod.Wrapf(types.ErrInvalidTransition, "%s is suspended: it cannot change its name or credential "+
			"(a registrar reinstates it first; the change then asks for a new approval)", msg.Provider)
	}
	if identityChanged && msg.RequestRenewal {
		return nil, errorsmod.Wrap(types.ErrInvalidTransition, "a change of name or credential already asks for a new approval")
	}
	if msg.RequestRenewal {
		if p.Status != types.PROVIDER_STATUS_ACTIVE {
			return nil, errorsmod.Wrapf(types.ErrInvalidTransition, "%s is %s: only an active provider can request a renewal", msg.Provider, p.Status)
		}
		if !p.RenewalRequested {
			p.RenewalRequested = true
			fields = append(fields, "renewal_requested")
		}
	}
	if len(fields) == 0 {
		return nil, errorsmod.Wrap(types.ErrNoChange, "every given value equals the current one")
	}
	// A changed identity is not the one a registrar approved: the provider
	// goes back to pending (and loses every access, through IsActive) until a
	// registrar approves the new one.
	from := p.Status
	if identityChanged && p.Status != types.PROVIDER_STATUS_PENDING {
		p.Status = types.PROVIDER_STATUS_PENDING
		p.StatusReason = types.STATUS_REASON_IDENTITY_CHANGED
		p.RenewalRequested = false
	}
	p.UpdatedAt = now
	if err := s.Providers.Set(ctx, provider, p); err != nil {
		return nil, err
	}

	if err := modkit.Emit(ctx, &types.EventProviderUpdated{
		Address: msg.Provider, Fields: fields, KeyRotated: keyRotated,
	}); err != nil {
		return nil, err
	}
	if from != p.Status {
		if err := modkit.Emit(ctx, &types.EventProviderStatusChanged{
			Address: msg.Provider, Actor: msg.Provider, From: from, To: p.Status, Reason: p.StatusReason,
		}); err != nil {
			return nil, err
		}
	}
	return &types.MsgUpdateProviderResponse{}, nil
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
	if err := msg.Params.Validate(s.addressCodec); err != nil {
		return nil, err
	}
	if err := s.Params.Set(ctx, msg.Params); err != nil {
		return nil, err
	}
	return &types.MsgUpdateParamsResponse{}, nil
}

// decode turns a bech32 address into bytes, or returns ErrInvalidAddress.
func (s msgServer) decode(addr, field string) (sdk.AccAddress, error) {
	return addrs.DecodeField(s.addressCodec, addr, field, types.ErrInvalidAddress)
}

// authorizeRegistrar checks that signer may act on provider: it is a registrar or
// the authority, and not the provider itself (nobody approves or judges itself).
func (s msgServer) authorizeRegistrar(ctx context.Context, signer, provider sdk.AccAddress) error {
	if signer.Equals(provider) {
		return errorsmod.Wrapf(types.ErrSelfAction, "%s", signer)
	}
	ok, err := s.isRegistrarOrAuthority(ctx, signer)
	if err != nil {
		return err
	}
	if !ok {
		return errorsmod.Wrapf(types.ErrUnauthorized, "%s is neither a registrar nor the governance authority", signer)
	}
	return nil
}
