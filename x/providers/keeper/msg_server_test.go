package keeper_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/providers/types"
)

// Names used as addresses in the tests (see tk.Address).
const (
	applicant = "applicant"
	registrar = "registrar"
	stranger  = "stranger"
	prov      = "provider"
)

// msgCase is one row of a msg-server table: given setup, when msg is handled,
// then it fails with expErr (and the state is unchanged), or succeeds and check
// holds.
type msgCase[M any] struct {
	name   string
	setup  func(t *testing.T, f *tk.ProvidersFixture)
	msg    func() M
	expErr *errorsmod.Error
	check  func(t *testing.T, f *tk.ProvidersFixture)
}

// runMsgCases runs a table against one handler.
func runMsgCases[M any, R any](t *testing.T, cases []msgCase[M], handle func(f *tk.ProvidersFixture, m M) (R, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tk.NewProvidersFixture(t)
			f.SetRegistrars(t, tk.Address(registrar))
			if tc.setup != nil {
				tc.setup(t, f)
			}
			before, err := f.Keeper.ExportGenesis(f.Ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.Ctx = f.Ctx.WithEventManager(sdk.NewEventManager())

			_, err = handle(f, tc.msg())

			if tc.expErr != nil {
				assertRegisteredError(t, err, tc.expErr)
				after, err := f.Keeper.ExportGenesis(f.Ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(f.Codec.MustMarshalJSON(before), f.Codec.MustMarshalJSON(after)) {
					t.Fatal("a refused message changed the state")
				}
				if n := len(f.Ctx.EventManager().Events()); n != 0 {
					t.Fatalf("a refused message emitted %d events", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

// assertRegisteredError checks that err is want, with want's codespace and code
// (what a client sees in the tx result).
func assertRegisteredError(t *testing.T, err error, want *errorsmod.Error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s (code %d)", want, want.ABCICode())
	}
	codespace, code, _ := errorsmod.ABCIInfo(err, false)
	if !errorsmod.IsOf(err, want) || codespace != types.ModuleName || code != want.ABCICode() {
		t.Fatalf("error = %v (codespace %s, code %d), want %s (codespace %s, code %d)",
			err, codespace, code, want, types.ModuleName, want.ABCICode())
	}
}

// assertEvent checks that exactly one event of the typed event's type was emitted.
func assertEvent(t *testing.T, f *tk.ProvidersFixture, eventType string) sdk.Event {
	t.Helper()
	var found []sdk.Event
	for _, e := range f.Ctx.EventManager().Events() {
		if e.Type == eventType {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s events, want 1 (all: %v)", len(found), eventType, f.Ctx.EventManager().Events())
	}
	return found[0]
}

func mustAcc(bech32 string) sdk.AccAddress {
	bz, err := tk.AddressCodec.StringToBytes(bech32)
	if err != nil {
		panic(err)
	}
	return bz
}

func mustProvider(t *testing.T, f *tk.ProvidersFixture, name string) types.Provider {
	t.Helper()
	p, ok := f.Provider(t, name)
	if !ok {
		t.Fatalf("provider %s not found", name)
	}
	return p
}

func validApply(name string) *types.MsgApplyProvider {
	return &types.MsgApplyProvider{
		Applicant:      tk.Address(name),
		Name:           "St. Example Hospital",
		Kind:           types.PROVIDER_KIND_HOSPITAL,
		LicenseId:      "DE-HOSP-0001",
		Jurisdiction:   "DE",
		EncryptionKey:  tk.EncryptionKey(name),
		VaultEndpoint:  "https://vault.example.org",
		CredentialHash: bytes.Repeat([]byte{7}, 32),
	}
}

func withApply(mod func(m *types.MsgApplyProvider)) func() *types.MsgApplyProvider {
	return func() *types.MsgApplyProvider {
		m := validApply(applicant)
		mod(m)
		return m
	}
}

func setProvider(name string, st types.ProviderStatus) func(t *testing.T, f *tk.ProvidersFixture) {
	return func(t *testing.T, f *tk.ProvidersFixture) { f.SetProvider(t, tk.ValidProvider(name, st)) }
}

func TestApplyProvider(t *testing.T) {
	invalidKey := bytes.Repeat([]byte{0xff}, types.EncryptionKeyLength) // ML-KEM coefficients out of range
	runMsgCases(t, []msgCase[*types.MsgApplyProvider]{
		{
			name: "right signer: a new applicant becomes pending",
			msg:  func() *types.MsgApplyProvider { return validApply(applicant) },
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				p := mustProvider(t, f, applicant)
				if p.Status != types.PROVIDER_STATUS_PENDING || p.Name != "St. Example Hospital" ||
					!p.RegisteredAt.Equal(tk.GenesisTime) || !p.CredentialExpiresAt.IsZero() {
					t.Fatalf("provider = %+v", p)
				}
				if active, _ := f.Keeper.IsActive(f.Ctx, mustAcc(p.Address)); active {
					t.Fatal("a pending provider is active")
				}
				// events carry addresses, kinds and codes only: not the name,
				// licence, endpoint or key
				e := assertEvent(t, f, "healthd.providers.v1.EventProviderApplied")
				for _, a := range e.Attributes {
					if a.Key != "address" && a.Key != "kind" && a.Key != "msg_index" {
						t.Errorf("event attribute %s=%s", a.Key, a.Value)
					}
					if strings.Contains(a.Value, "Hospital") || strings.Contains(a.Value, "DE-HOSP") || strings.Contains(a.Value, "vault.example") {
						t.Errorf("event leaks an entry field: %s=%s", a.Key, a.Value)
					}
				}
			},
		},
		{
			name: "right signer: re-applying while pending replaces the application",
			setup: func(t *testing.T, f *tk.ProvidersFixture) {
				p := tk.ValidProvider(applicant, types.PROVIDER_STATUS_PENDING)
				p.RegisteredAt = tk.GenesisTime.Add(-time.Hour)
				f.SetProvider(t, p)
			},
			msg: withApply(func(m *types.MsgApplyProvider) { m.Name = "Renamed Hospital"; m.Kind = types.PROVIDER_KIND_CLINIC }),
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				p := mustProvider(t, f, applicant)
				if p.Name != "Renamed Hospital" || p.Kind != types.PROVIDER_KIND_CLINIC || p.Status != types.PROVIDER_STATUS_PENDING {
					t.Fatalf("provider = %+v", p)
				}
				if !p.RegisteredAt.Equal(tk.GenesisTime.Add(-time.Hour)) || !p.UpdatedAt.Equal(tk.GenesisTime) {
					t.Fatalf("registered_at %s updated_at %s: the first application time must be kept", p.RegisteredAt, p.UpdatedAt)
				}
			},
		},
		{name: "bad input: malformed applicant address", msg: withApply(func(m *types.MsgApplyProvider) { m.Applicant = "health1xyz" }), expErr: types.ErrInvalidAddress},
		{name: "bad input: name over 128 characters", msg: withApply(func(m *types.MsgApplyProvider) { m.Name = strings.Repeat("a", 129) }), expErr: types.ErrInvalidName},
		{name: "bad input: empty name", msg: withApply(func(m *types.MsgApplyProvider) { m.Name = "" }), expErr: types.ErrInvalidName},
		{name: "bad input: unknown kind", msg: withApply(func(m *types.MsgApplyProvider) { m.Kind = 99 }), expErr: types.ErrInvalidKind},
		{name: "bad input: unspecified kind", msg: withApply(func(m *types.MsgApplyProvider) { m.Kind = types.PROVIDER_KIND_UNSPECIFIED }), expErr: types.ErrInvalidKind},
		{name: "bad input: encryption key of the wrong length", msg: withApply(func(m *types.MsgApplyProvider) { m.EncryptionKey = m.EncryptionKey[:1215] }), expErr: types.ErrInvalidEncryptionKey},
		{name: "bad input: encryption key that is not an ML-KEM key", msg: withApply(func(m *types.MsgApplyProvider) { m.EncryptionKey = invalidKey }), expErr: types.ErrInvalidEncryptionKey},
		{name: "bad input: vault endpoint over 256 characters", msg: withApply(func(m *types.MsgApplyProvider) {
			m.VaultEndpoint = "https://vault.example.org/" + strings.Repeat("a", 240)
		}), expErr: types.ErrInvalidVaultEndpoint},
		{name: "bad input: plain http vault endpoint", msg: withApply(func(m *types.MsgApplyProvider) { m.VaultEndpoint = "http://vault.example.org" }), expErr: types.ErrInvalidVaultEndpoint},
		{name: "bad input: vault endpoint with credentials", msg: withApply(func(m *types.MsgApplyProvider) { m.VaultEndpoint = "https://u:p@vault.example.org" }), expErr: types.ErrInvalidVaultEndpoint},
		{name: "bad input: jurisdiction not ISO 3166", msg: withApply(func(m *types.MsgApplyProvider) { m.Jurisdiction = "Germany" }), expErr: types.ErrInvalidJurisdiction},
		{name: "bad input: license id with control characters", msg: withApply(func(m *types.MsgApplyProvider) { m.LicenseId = "A\n1" }), expErr: types.ErrInvalidLicense},
		{name: "bad input: credential hash not 32 bytes", msg: withApply(func(m *types.MsgApplyProvider) { m.CredentialHash = []byte{1, 2} }), expErr: types.ErrInvalidCredentialHash},
		{name: "wrong state: already active", setup: setProvider(applicant, types.PROVIDER_STATUS_ACTIVE), msg: withApply(func(*types.MsgApplyProvider) {}), expErr: types.ErrAlreadyRegistered},
		{name: "wrong state: suspended", setup: setProvider(applicant, types.PROVIDER_STATUS_SUSPENDED), msg: withApply(func(*types.MsgApplyProvider) {}), expErr: types.ErrAlreadyRegistered},
		{name: "wrong state: revoked cannot apply again", setup: setProvider(applicant, types.PROVIDER_STATUS_REVOKED), msg: withApply(func(*types.MsgApplyProvider) {}), expErr: types.ErrRevoked},
	}, func(f *tk.ProvidersFixture, m *types.MsgApplyProvider) (*types.MsgApplyProviderResponse, error) {
		return f.Msg.ApplyProvider(f.Ctx, m)
	})
}

func approve(approver, provider string, expires time.Time) func() *types.MsgApproveProvider {
	return func() *types.MsgApproveProvider {
		return &types.MsgApproveProvider{
			Approver: tk.Address(approver), Provider: tk.Address(provider), CredentialExpiresAt: expires, CredentialHash: make([]byte, 32),
		}
	}
}

func TestApproveProvider(t *testing.T) {
	in90days := tk.GenesisTime.Add(90 * 24 * time.Hour)
	runMsgCases(t, []msgCase[*types.MsgApproveProvider]{
		{
			name:  "right signer: a registrar activates a pending provider",
			setup: setProvider(prov, types.PROVIDER_STATUS_PENDING),
			msg:   approve(registrar, prov, in90days),
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				p := mustProvider(t, f, prov)
				if p.Status != types.PROVIDER_STATUS_ACTIVE || !p.CredentialExpiresAt.Equal(in90days) {
					t.Fatalf("provider = %+v", p)
				}
				if active, _ := f.Keeper.IsActive(f.Ctx, mustAcc(tk.Address(prov))); !active {
					t.Fatal("an approved provider is not active")
				}
				assertEvent(t, f, "healthd.providers.v1.EventProviderApproved")
			},
		},
		{
			name:  "right signer: the governance authority approves",
			setup: setProvider(prov, types.PROVIDER_STATUS_PENDING),
			msg: func() *types.MsgApproveProvider {
				return &types.MsgApproveProvider{Approver: tk.Authority(), Provider: tk.Address(prov), CredentialExpiresAt: in90days, CredentialHash: make([]byte, 32)}
			},
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				if p := mustProvider(t, f, prov); p.Status != types.PROVIDER_STATUS_ACTIVE {
					t.Fatalf("status = %s", p.Status)
				}
			},
		},
		{
			name: "right signer: renewal of an active provider that asked for it",
			setup: func(t *testing.T, f *tk.ProvidersFixture) {
				p := tk.ValidProvider(prov, types.PROVIDER_STATUS_ACTIVE)
				p.RenewalRequested = true
				f.SetProvider(t, p)
			},
			msg: approve(registrar, prov, in90days),
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				p := mustProvider(t, f, prov)
				if p.RenewalRequested || !p.CredentialExpiresAt.Equal(in90days) {
					t.Fatalf("provider = %+v, want renewal cleared and the new expiry", p)
				}
			},
		},
		{name: "wrong signer: not a registrar", setup: setProvider(prov, types.PROVIDER_STATUS_PENDING), msg: approve(stranger, prov, in90days), expErr: types.ErrUnauthorized},
		{name: "wrong signer: a registrar approving itself", setup: setProvider(registrar, types.PROVIDER_STATUS_PENDING), msg: approve(registrar, registrar, in90days), expErr: types.ErrSelfAction},
		{name: "bad input: no expiry", setup: setProvider(prov, types.PROVIDER_STATUS_PENDING), msg: approve(registrar, prov, time.Time{}), expErr: types.ErrInvalidExpiry},
		{name: "bad input: expiry at the block time", setup: setProvider(prov, types.PROVIDER_STATUS_PENDING), msg: approve(registrar, prov, tk.GenesisTime), expErr: types.ErrInvalidExpiry},
		{
			name: "bad input: expiry beyond max_credential_validity", setup: setProvider(prov, types.PROVIDER_STATUS_PENDING),
			msg: approve(registrar, prov, tk.GenesisTime.Add(types.DefaultMaxCredentialValidity+time.Second)), expErr: types.ErrInvalidExpiry,
		},
		{name: "bad input: malformed provider address", msg: func() *types.MsgApproveProvider {
			return &types.MsgApproveProvider{Approver: tk.Address(registrar), Provider: "nope", CredentialExpiresAt: in90days}
		}, expErr: types.ErrInvalidAddress},
		{name: "wrong state: no such provider", msg: approve(registrar, prov, in90days), expErr: types.ErrProviderNotFound},
		{
			name: "wrong state: the application changed since the review", setup: func(t *testing.T, f *tk.ProvidersFixture) {
				p := tk.ValidProvider(prov, types.PROVIDER_STATUS_PENDING)
				p.CredentialHash = bytes.Repeat([]byte{7}, 32)
				f.SetProvider(t, p)
			}, msg: approve(registrar, prov, in90days), expErr: types.ErrCredentialMismatch,
		},
		{name: "bad input: no credential hash", setup: setProvider(prov, types.PROVIDER_STATUS_PENDING), msg: func() *types.MsgApproveProvider {
			return &types.MsgApproveProvider{Approver: tk.Address(registrar), Provider: tk.Address(prov), CredentialExpiresAt: in90days}
		}, expErr: types.ErrInvalidCredentialHash},
		{name: "wrong state: active without a renewal request", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE), msg: approve(registrar, prov, in90days), expErr: types.ErrInvalidTransition},
		{name: "wrong state: suspended", setup: setProvider(prov, types.PROVIDER_STATUS_SUSPENDED), msg: approve(registrar, prov, in90days), expErr: types.ErrInvalidTransition},
		{name: "wrong state: revoked", setup: setProvider(prov, types.PROVIDER_STATUS_REVOKED), msg: approve(registrar, prov, in90days), expErr: types.ErrInvalidTransition},
	}, func(f *tk.ProvidersFixture, m *types.MsgApproveProvider) (*types.MsgApproveProviderResponse, error) {
		return f.Msg.ApproveProvider(f.Ctx, m)
	})
}

func setStatus(signer, provider string, st types.ProviderStatus, reason types.StatusReason) func() *types.MsgSetProviderStatus {
	return func() *types.MsgSetProviderStatus {
		return &types.MsgSetProviderStatus{Authority: tk.Address(signer), Provider: tk.Address(provider), Status: st, Reason: reason}
	}
}

func TestSetProviderStatus(t *testing.T) {
	const (
		active    = types.PROVIDER_STATUS_ACTIVE
		suspended = types.PROVIDER_STATUS_SUSPENDED
		revoked   = types.PROVIDER_STATUS_REVOKED
		pending   = types.PROVIDER_STATUS_PENDING
	)
	expect := func(st types.ProviderStatus, reason types.StatusReason, isActive bool) func(t *testing.T, f *tk.ProvidersFixture) {
		return func(t *testing.T, f *tk.ProvidersFixture) {
			p := mustProvider(t, f, prov)
			if p.Status != st || p.StatusReason != reason {
				t.Fatalf("status %s reason %s, want %s %s", p.Status, p.StatusReason, st, reason)
			}
			if got, _ := f.Keeper.IsActive(f.Ctx, mustAcc(p.Address)); got != isActive {
				t.Fatalf("IsActive = %v, want %v", got, isActive)
			}
			assertEvent(t, f, "healthd.providers.v1.EventProviderStatusChanged")
		}
	}
	runMsgCases(t, []msgCase[*types.MsgSetProviderStatus]{
		{
			name: "right signer: suspend an active provider", setup: setProvider(prov, active),
			msg: setStatus(registrar, prov, suspended, types.STATUS_REASON_SECURITY_INCIDENT), check: expect(suspended, types.STATUS_REASON_SECURITY_INCIDENT, false),
		},
		{
			name: "right signer: reinstate a suspended provider", setup: setProvider(prov, suspended),
			msg: setStatus(registrar, prov, active, types.STATUS_REASON_ISSUE_RESOLVED), check: expect(active, types.STATUS_REASON_ISSUE_RESOLVED, true),
		},
		{
			name: "right signer: revoke an active provider", setup: setProvider(prov, active),
			msg: setStatus(registrar, prov, revoked, types.STATUS_REASON_MISCONDUCT), check: expect(revoked, types.STATUS_REASON_MISCONDUCT, false),
		},
		{
			name: "right signer: revoke a pending application", setup: setProvider(prov, pending),
			msg: setStatus(registrar, prov, revoked, types.STATUS_REASON_LICENSE_LAPSED), check: expect(revoked, types.STATUS_REASON_LICENSE_LAPSED, false),
		},
		{
			name: "right signer: the authority revokes a suspended provider", setup: setProvider(prov, suspended),
			msg: func() *types.MsgSetProviderStatus {
				return &types.MsgSetProviderStatus{Authority: tk.Authority(), Provider: tk.Address(prov), Status: revoked, Reason: types.STATUS_REASON_MEMBERSHIP_ENDED}
			}, check: expect(revoked, types.STATUS_REASON_MEMBERSHIP_ENDED, false),
		},
		{
			name: "wrong signer: not a registrar", setup: setProvider(prov, active),
			msg: setStatus(stranger, prov, suspended, types.STATUS_REASON_MISCONDUCT), expErr: types.ErrUnauthorized,
		},
		{
			name: "wrong signer: a provider suspending itself", setup: setProvider(prov, active),
			msg: setStatus(prov, prov, suspended, types.STATUS_REASON_ADMINISTRATIVE_REVIEW), expErr: types.ErrSelfAction,
		},
		{
			name: "wrong signer: a registrar that is a provider reinstating itself", setup: setProvider(registrar, suspended),
			msg: setStatus(registrar, registrar, active, types.STATUS_REASON_ISSUE_RESOLVED), expErr: types.ErrSelfAction,
		},
		{
			name: "bad input: pending is not a target status", setup: setProvider(prov, active),
			msg: setStatus(registrar, prov, pending, types.STATUS_REASON_MISCONDUCT), expErr: types.ErrInvalidStatus,
		},
		{
			name: "bad input: no reason", setup: setProvider(prov, active),
			msg: setStatus(registrar, prov, suspended, types.STATUS_REASON_UNSPECIFIED), expErr: types.ErrInvalidReason,
		},
		{
			name: "bad input: unknown reason", setup: setProvider(prov, active),
			msg: setStatus(registrar, prov, suspended, 42), expErr: types.ErrInvalidReason,
		},
		{
			name: "wrong state: suspend a pending provider", setup: setProvider(prov, pending),
			msg: setStatus(registrar, prov, suspended, types.STATUS_REASON_MISCONDUCT), expErr: types.ErrInvalidTransition,
		},
		{
			name: "wrong state: reinstate an active provider", setup: setProvider(prov, active),
			msg: setStatus(registrar, prov, active, types.STATUS_REASON_ISSUE_RESOLVED), expErr: types.ErrInvalidTransition,
		},
		{
			name: "wrong state: reinstate a revoked provider (revocation is final)", setup: setProvider(prov, revoked),
			msg: setStatus(registrar, prov, active, types.STATUS_REASON_ISSUE_RESOLVED), expErr: types.ErrRevoked,
		},
		{
			name: "wrong state: no such provider",
			msg:  setStatus(registrar, prov, suspended, types.STATUS_REASON_MISCONDUCT), expErr: types.ErrProviderNotFound,
		},
	}, func(f *tk.ProvidersFixture, m *types.MsgSetProviderStatus) (*types.MsgSetProviderStatusResponse, error) {
		return f.Msg.SetProviderStatus(f.Ctx, m)
	})
}

func update(mod func(m *types.MsgUpdateProvider)) func() *types.MsgUpdateProvider {
	return func() *types.MsgUpdateProvider {
		m := &types.MsgUpdateProvider{Provider: tk.Address(prov)}
		mod(m)
		return m
	}
}

func TestUpdateProvider(t *testing.T) {
	newKey := tk.EncryptionKey("rotated")
	runMsgCases(t, []msgCase[*types.MsgUpdateProvider]{
		{
			name:  "right signer: rotate the encryption key, keeping the old one",
			setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg:   update(func(m *types.MsgUpdateProvider) { m.EncryptionKey = newKey }),
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				p := mustProvider(t, f, prov)
				if !bytes.Equal(p.EncryptionKey, newKey) || len(p.PreviousKeys) != 1 ||
					!bytes.Equal(p.PreviousKeys[0].Key, tk.EncryptionKey(prov)) || !p.PreviousKeys[0].RetiredAt.Equal(tk.GenesisTime) {
					t.Fatalf("provider keys = current %x…, previous %+v", p.EncryptionKey[:4], p.PreviousKeys)
				}
				e := assertEvent(t, f, "healthd.providers.v1.EventProviderUpdated")
				if v, ok := e.GetAttribute("key_rotated"); !ok || v.Value != "true" {
					t.Fatalf("event attributes = %v", e.Attributes)
				}
			},
		},
		{
			name:  "right signer: endpoint and renewal request keep it active",
			setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg: update(func(m *types.MsgUpdateProvider) {
				m.VaultEndpoint = "http://127.0.0.1:8088"
				m.RequestRenewal = true
			}),
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				p := mustProvider(t, f, prov)
				if p.VaultEndpoint != "http://127.0.0.1:8088" || !p.RenewalRequested || p.Status != types.PROVIDER_STATUS_ACTIVE {
					t.Fatalf("provider = %+v", p)
				}
			},
		},
		{
			name:  "right signer: a new name returns an active provider to pending",
			setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg:   update(func(m *types.MsgUpdateProvider) { m.Name = "Clínica São José" }),
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				p := mustProvider(t, f, prov)
				if p.Name != "Clínica São José" || p.Status != types.PROVIDER_STATUS_PENDING || p.StatusReason != types.STATUS_REASON_IDENTITY_CHANGED {
					t.Fatalf("provider = %+v", p)
				}
				if active, _ := f.Keeper.IsActive(f.Ctx, mustAcc(tk.Address(prov))); active {
					t.Fatal("a renamed provider is still active")
				}
				assertEvent(t, f, "healthd.providers.v1.EventProviderStatusChanged")
			},
		},
		{
			name:  "right signer: a new credential returns an active provider to pending",
			setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg:   update(func(m *types.MsgUpdateProvider) { m.CredentialHash = bytes.Repeat([]byte{9}, 32) }),
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				if p := mustProvider(t, f, prov); p.Status != types.PROVIDER_STATUS_PENDING {
					t.Fatalf("status = %s", p.Status)
				}
			},
		},
		{
			name:  "right signer: a suspended provider may still fix its endpoint",
			setup: setProvider(prov, types.PROVIDER_STATUS_SUSPENDED),
			msg:   update(func(m *types.MsgUpdateProvider) { m.VaultEndpoint = "http://127.0.0.1:8089" }),
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				if p := mustProvider(t, f, prov); p.VaultEndpoint != "http://127.0.0.1:8089" || p.Status != types.PROVIDER_STATUS_SUSPENDED {
					t.Fatalf("provider = %+v", p)
				}
			},
		},
		{
			name: "wrong state: a suspended provider changing its credential", setup: setProvider(prov, types.PROVIDER_STATUS_SUSPENDED),
			msg: update(func(m *types.MsgUpdateProvider) { m.CredentialHash = bytes.Repeat([]byte{9}, 32) }), expErr: types.ErrInvalidTransition,
		},
		{
			name: "bad input: a bidirectional override in the name", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg: update(func(m *types.MsgUpdateProvider) { m.Name = "Localnet \u202eGeneral Hospital" }), expErr: types.ErrInvalidName,
		},
		{
			name: "bad input: a Cyrillic look-alike in the name", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg: update(func(m *types.MsgUpdateProvider) { m.Name = "Localnet General H\u043espital" }), expErr: types.ErrInvalidName,
		},
		{
			name: "bad input: a zero-width space in the name", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg: update(func(m *types.MsgUpdateProvider) { m.Name = "Localnet\u200bHospital" }), expErr: types.ErrInvalidName,
		},
		{name: "bad input: nothing to change", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE), msg: update(func(*types.MsgUpdateProvider) {}), expErr: types.ErrNoChange},
		{
			name: "bad input: name over 128 characters", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg: update(func(m *types.MsgUpdateProvider) { m.Name = strings.Repeat("x", 200) }), expErr: types.ErrInvalidName,
		},
		{
			name: "bad input: malformed encryption key", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg: update(func(m *types.MsgUpdateProvider) { m.EncryptionKey = make([]byte, 32) }), expErr: types.ErrInvalidEncryptionKey,
		},
		{
			name: "bad input: ftp vault endpoint", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg: update(func(m *types.MsgUpdateProvider) { m.VaultEndpoint = "ftp://vault.example.org" }), expErr: types.ErrInvalidVaultEndpoint,
		},
		{name: "wrong state: not registered", msg: update(func(m *types.MsgUpdateProvider) { m.Name = "X" }), expErr: types.ErrProviderNotFound},
		{
			name: "wrong state: revoked", setup: setProvider(prov, types.PROVIDER_STATUS_REVOKED),
			msg: update(func(m *types.MsgUpdateProvider) { m.Name = "X" }), expErr: types.ErrRevoked,
		},
		{
			name: "wrong state: renewal before approval", setup: setProvider(prov, types.PROVIDER_STATUS_PENDING),
			msg: update(func(m *types.MsgUpdateProvider) { m.RequestRenewal = true }), expErr: types.ErrInvalidTransition,
		},
		{
			name: "wrong state: the values are already current", setup: setProvider(prov, types.PROVIDER_STATUS_ACTIVE),
			msg: update(func(m *types.MsgUpdateProvider) { m.Name = "Provider " + prov }), expErr: types.ErrNoChange,
		},
		{name: "wrong state: too many retired keys", setup: func(t *testing.T, f *tk.ProvidersFixture) {
			p := tk.ValidProvider(prov, types.PROVIDER_STATUS_ACTIVE)
			for range types.MaxPreviousKeys {
				p.PreviousKeys = append(p.PreviousKeys, types.RetiredKey{Key: tk.EncryptionKey("old"), RetiredAt: tk.GenesisTime})
			}
			f.SetProvider(t, p)
		}, msg: update(func(m *types.MsgUpdateProvider) { m.EncryptionKey = newKey }), expErr: types.ErrTooManyKeys},
	}, func(f *tk.ProvidersFixture, m *types.MsgUpdateProvider) (*types.MsgUpdateProviderResponse, error) {
		return f.Msg.UpdateProvider(f.Ctx, m)
	})
}

func TestUpdateParams(t *testing.T) {
	newParams := types.Params{Registrars: []string{tk.Address("r1"), tk.Address("r2")}, MaxCredentialValidity: 30 * 24 * time.Hour}
	runMsgCases(t, []msgCase[*types.MsgUpdateParams]{
		{
			name: "right signer: governance replaces the params",
			msg: func() *types.MsgUpdateParams {
				return &types.MsgUpdateParams{Authority: tk.Authority(), Params: newParams}
			},
			check: func(t *testing.T, f *tk.ProvidersFixture) {
				got, err := f.Keeper.Params.Get(f.Ctx)
				if err != nil || len(got.Registrars) != 2 || got.MaxCredentialValidity != newParams.MaxCredentialValidity {
					t.Fatalf("params = %+v, %v", got, err)
				}
			},
		},
		{name: "wrong signer: a registrar", msg: func() *types.MsgUpdateParams {
			return &types.MsgUpdateParams{Authority: tk.Address(registrar), Params: newParams}
		}, expErr: types.ErrUnauthorized},
		{name: "bad input: a registrar listed twice", msg: func() *types.MsgUpdateParams {
			p := newParams
			p.Registrars = []string{tk.Address("r1"), tk.Address("r1")}
			return &types.MsgUpdateParams{Authority: tk.Authority(), Params: p}
		}, expErr: types.ErrInvalidParams},
		{name: "bad input: zero validity", msg: func() *types.MsgUpdateParams {
			return &types.MsgUpdateParams{Authority: tk.Authority(), Params: types.Params{MaxCredentialValidity: 0}}
		}, expErr: types.ErrInvalidParams},
		{name: "bad input: upper-case registrar spelling", msg: func() *types.MsgUpdateParams {
			return &types.MsgUpdateParams{Authority: tk.Authority(), Params: types.Params{
				Registrars: []string{strings.ToUpper(tk.Address("r1"))}, MaxCredentialValidity: time.Hour,
			}}
		}, expErr: types.ErrInvalidParams},
		{name: "bad input: malformed authority", msg: func() *types.MsgUpdateParams {
			return &types.MsgUpdateParams{Authority: "gov", Params: newParams}
		}, expErr: types.ErrInvalidAddress},
	}, func(f *tk.ProvidersFixture, m *types.MsgUpdateParams) (*types.MsgUpdateParamsResponse, error) {
		return f.Msg.UpdateParams(f.Ctx, m)
	})
}

// The signer of each message is the account the chain authorizes: applicant,
// approver, authority, provider. A transaction signed by anyone else fails
// signature verification before the msg server runs ("wrong signer" for the
// messages whose signer is their subject).
func TestMessageSigners(t *testing.T) {
	f := tk.NewProvidersFixture(t)
	cases := []struct {
		msg  sdk.Msg
		want string
	}{
		{validApply(applicant), tk.Address(applicant)},
		{&types.MsgApproveProvider{Approver: tk.Address(registrar), Provider: tk.Address(prov)}, tk.Address(registrar)},
		{&types.MsgSetProviderStatus{Authority: tk.Address(registrar), Provider: tk.Address(prov)}, tk.Address(registrar)},
		{&types.MsgUpdateProvider{Provider: tk.Address(prov)}, tk.Address(prov)},
		{&types.MsgUpdateParams{Authority: tk.Authority()}, tk.Authority()},
	}
	for _, tc := range cases {
		signers, _, err := f.Codec.GetMsgV1Signers(tc.msg)
		if err != nil {
			t.Fatalf("%T: %v", tc.msg, err)
		}
		got, _ := tk.AddressCodec.BytesToString(signers[0])
		if len(signers) != 1 || got != tc.want {
			t.Fatalf("%T signers = %v, want only %s", tc.msg, signers, tc.want)
		}
	}
}
