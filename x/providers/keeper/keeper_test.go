package keeper_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"cosmossdk.io/core/appmodule"

	"github.com/cosmos/cosmos-sdk/types/query"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/providers"
	"github.com/healthd-chain/healthd/x/providers/types"
)

func TestIsActiveHonoursCredentialExpiryAtBlockTime(t *testing.T) {
	// given an active provider whose credential expires at T
	f := tk.NewProvidersFixture(t)
	p := tk.ValidProvider(prov, types.PROVIDER_STATUS_ACTIVE)
	expiry := p.CredentialExpiresAt
	f.SetProvider(t, p)
	addr := mustAcc(p.Address)

	cases := []struct {
		name      string
		blockTime time.Time
		want      bool
	}{
		{"well before expiry", tk.GenesisTime, true},
		{"one nanosecond before expiry", expiry.Add(-time.Nanosecond), true},
		{"exactly at expiry", expiry, false},
		{"after expiry", expiry.Add(time.Hour), false},
	}
	for _, tc := range cases {
		// when a block at that time asks
		ctx := f.Ctx.WithBlockTime(tc.blockTime)

		// then the keeper and the query agree with the rule "valid while block time < expiry"
		if got, _ := f.Keeper.IsActive(ctx, addr); got != tc.want {
			t.Errorf("%s: IsActive = %v, want %v", tc.name, got, tc.want)
		}
		resp, err := f.Query.Provider(ctx, &types.QueryProviderRequest{Address: p.Address})
		if err != nil {
			t.Fatal(err)
		}
		if resp.IsActive != tc.want || resp.Provider.Status != types.PROVIDER_STATUS_ACTIVE {
			t.Errorf("%s: query is_active = %v (status %s), want %v", tc.name, resp.IsActive, resp.Provider.Status, tc.want)
		}
	}
}

// Expiry is a check at use, not a sweep: the module has no begin- or end-blocker
// that could scan the registry.
func TestNoPerBlockWork(t *testing.T) {
	var m any = providers.AppModule{}
	if _, ok := m.(appmodule.HasEndBlocker); ok {
		t.Fatal("x/providers has an end-blocker")
	}
	if _, ok := m.(appmodule.HasBeginBlocker); ok {
		t.Fatal("x/providers has a begin-blocker")
	}
}

func TestIsActiveFalseForUnknownAndNonActive(t *testing.T) {
	f := tk.NewProvidersFixture(t)
	for _, st := range []types.ProviderStatus{types.PROVIDER_STATUS_PENDING, types.PROVIDER_STATUS_SUSPENDED, types.PROVIDER_STATUS_REVOKED} {
		name := st.String()
		f.SetProvider(t, tk.ValidProvider(name, st))
		if active, _ := f.Keeper.IsActive(f.Ctx, mustAcc(tk.Address(name))); active {
			t.Errorf("a %s provider is active", st)
		}
	}
	if active, err := f.Keeper.IsActive(f.Ctx, mustAcc(tk.Address("nobody"))); active || err != nil {
		t.Error("an unregistered account is active")
	}
	if _, err := f.Keeper.GetProvider(f.Ctx, mustAcc(tk.Address("nobody"))); !types.ErrProviderNotFound.Is(err) {
		t.Errorf("GetProvider of an unknown account = %v, want ErrProviderNotFound", err)
	}
}

func TestQueryProviders(t *testing.T) {
	// given providers of several statuses and kinds
	f := tk.NewProvidersFixture(t)
	add := func(name string, st types.ProviderStatus, kind types.ProviderKind) {
		p := tk.ValidProvider(name, st)
		p.Kind = kind
		f.SetProvider(t, p)
	}
	add("a-hosp-active", types.PROVIDER_STATUS_ACTIVE, types.PROVIDER_KIND_HOSPITAL)
	add("b-lab-active", types.PROVIDER_STATUS_ACTIVE, types.PROVIDER_KIND_LABORATORY)
	add("c-lab-pending", types.PROVIDER_STATUS_PENDING, types.PROVIDER_KIND_LABORATORY)
	add("d-lab-suspended", types.PROVIDER_STATUS_SUSPENDED, types.PROVIDER_KIND_LABORATORY)
	add("e-hosp-active", types.PROVIDER_STATUS_ACTIVE, types.PROVIDER_KIND_HOSPITAL)

	names := func(resp *types.QueryProvidersResponse) []string {
		var out []string
		for _, e := range resp.Providers {
			for _, n := range []string{"a-hosp-active", "b-lab-active", "c-lab-pending", "d-lab-suspended", "e-hosp-active"} {
				if e.Provider.Address == tk.Address(n) {
					out = append(out, n)
				}
			}
		}
		return out
	}
	cases := []struct {
		name string
		req  *types.QueryProvidersRequest
		want []string
	}{
		{"no filter", &types.QueryProvidersRequest{}, []string{"a-hosp-active", "b-lab-active", "c-lab-pending", "d-lab-suspended", "e-hosp-active"}},
		{"by status", &types.QueryProvidersRequest{Status: types.PROVIDER_STATUS_ACTIVE}, []string{"a-hosp-active", "b-lab-active", "e-hosp-active"}},
		{"by kind", &types.QueryProvidersRequest{Kind: types.PROVIDER_KIND_LABORATORY}, []string{"b-lab-active", "c-lab-pending", "d-lab-suspended"}},
		{"by status and kind", &types.QueryProvidersRequest{Status: types.PROVIDER_STATUS_ACTIVE, Kind: types.PROVIDER_KIND_LABORATORY}, []string{"b-lab-active"}},
		{"nothing matches", &types.QueryProvidersRequest{Kind: types.PROVIDER_KIND_PAYER}, nil},
	}
	for _, tc := range cases {
		resp, err := f.Query.Providers(f.Ctx, tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := names(resp); !equalStrings(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	// pagination walks an index page by page, in address order
	var walked []string
	var next []byte
	for page := 0; page < 5; page++ {
		resp, err := f.Query.Providers(f.Ctx, &types.QueryProvidersRequest{
			Status:     types.PROVIDER_STATUS_ACTIVE,
			Pagination: &query.PageRequest{Key: next, Limit: 2},
		})
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, names(resp)...)
		next = resp.Pagination.NextKey
		if next == nil {
			break
		}
	}
	if !equalStrings(walked, []string{"a-hosp-active", "b-lab-active", "e-hosp-active"}) {
		t.Fatalf("paginated walk = %v", walked)
	}
}

func TestQueryErrorsMapToGRPCCodes(t *testing.T) {
	f := tk.NewProvidersFixture(t)
	cases := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"malformed address", func() error {
			_, err := f.Query.Provider(f.Ctx, &types.QueryProviderRequest{Address: "health1bad"})
			return err
		}, codes.InvalidArgument},
		{"unknown provider", func() error {
			_, err := f.Query.Provider(f.Ctx, &types.QueryProviderRequest{Address: tk.Address("nobody")})
			return err
		}, codes.NotFound},
		{"unknown status filter", func() error {
			_, err := f.Query.Providers(f.Ctx, &types.QueryProvidersRequest{Status: 9})
			return err
		}, codes.InvalidArgument},
		{"unknown kind filter", func() error {
			_, err := f.Query.Providers(f.Ctx, &types.QueryProvidersRequest{Kind: 9})
			return err
		}, codes.InvalidArgument},
		{"nil request", func() error {
			_, err := f.Query.Provider(f.Ctx, nil)
			return err
		}, codes.InvalidArgument},
	}
	for _, tc := range cases {
		if got := status.Code(tc.call()); got != tc.want {
			t.Errorf("%s: code %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestGenesisValidate(t *testing.T) {
	valid := func() types.GenesisState {
		return types.GenesisState{
			Params: types.Params{Registrars: []string{tk.Address(registrar)}, MaxCredentialValidity: time.Hour},
			Providers: []types.Provider{
				tk.ValidProvider("p1", types.PROVIDER_STATUS_ACTIVE),
				tk.ValidProvider("p2", types.PROVIDER_STATUS_PENDING),
			},
		}
	}
	cases := []struct {
		name string
		mod  func(gs *types.GenesisState)
		ok   bool
	}{
		{"valid", func(*types.GenesisState) {}, true},
		{"default", func(gs *types.GenesisState) { *gs = *types.DefaultGenesis() }, true},
		{"duplicate provider", func(gs *types.GenesisState) { gs.Providers[1] = gs.Providers[0] }, false},
		{"bad provider address", func(gs *types.GenesisState) { gs.Providers[0].Address = "health1nope" }, false},
		{"unspecified status", func(gs *types.GenesisState) { gs.Providers[0].Status = types.PROVIDER_STATUS_UNSPECIFIED }, false},
		{"active but never approved", func(gs *types.GenesisState) { gs.Providers[0].CredentialExpiresAt = time.Time{} }, false},
		{"pending with an expiry", func(gs *types.GenesisState) { gs.Providers[1].CredentialExpiresAt = tk.GenesisTime }, false},
		{"malformed key", func(gs *types.GenesisState) { gs.Providers[0].EncryptionKey = []byte{1} }, false},
		{"malformed retired key", func(gs *types.GenesisState) {
			gs.Providers[0].PreviousKeys = []types.RetiredKey{{Key: []byte{1}, RetiredAt: tk.GenesisTime}}
		}, false},
		{"updated before registered", func(gs *types.GenesisState) { gs.Providers[0].UpdatedAt = tk.GenesisTime.Add(-time.Hour) }, false},
		{"duplicate registrar", func(gs *types.GenesisState) {
			gs.Params.Registrars = append(gs.Params.Registrars, tk.Address(registrar))
		}, false},
		{"zero credential validity", func(gs *types.GenesisState) { gs.Params.MaxCredentialValidity = 0 }, false},
	}
	for _, tc := range cases {
		gs := valid()
		tc.mod(&gs)
		err := gs.Validate(tk.AddressCodec)
		if tc.ok && err != nil {
			t.Errorf("%s: unexpected error %v", tc.name, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestGenesisExportImportIsIdentity(t *testing.T) {
	// given a registry built through the messages
	f := tk.NewProvidersFixture(t)
	f.SetRegistrars(t, tk.Address(registrar))
	for _, name := range []string{"p1", "p2", "p3"} {
		if _, err := f.Msg.ApplyProvider(f.Ctx, validApply(name)); err != nil {
			t.Fatal(err)
		}
	}
	approval := approve(registrar, "p1", tk.GenesisTime.Add(time.Hour))()
	approval.CredentialHash = validApply("p1").CredentialHash // the one the registrar reviewed
	if _, err := f.Msg.ApproveProvider(f.Ctx, approval); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Msg.UpdateProvider(f.Ctx, &types.MsgUpdateProvider{Provider: tk.Address("p1"), EncryptionKey: tk.EncryptionKey("new")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Msg.SetProviderStatus(f.Ctx, setStatus(registrar, "p2", types.PROVIDER_STATUS_REVOKED, types.STATUS_REASON_LICENSE_LAPSED)()); err != nil {
		t.Fatal(err)
	}

	// when it is exported and imported into a fresh keeper
	exported, err := f.Keeper.ExportGenesis(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := exported.Validate(tk.AddressCodec); err != nil {
		t.Fatalf("exported genesis does not validate: %v", err)
	}
	g := tk.NewProvidersFixture(t)
	if err := g.Keeper.InitGenesis(g.Ctx, exported); err != nil {
		t.Fatal(err)
	}
	again, err := g.Keeper.ExportGenesis(g.Ctx)
	if err != nil {
		t.Fatal(err)
	}

	// then the second export is byte-identical and the indexes were rebuilt
	if !bytes.Equal(f.Codec.MustMarshalJSON(exported), g.Codec.MustMarshalJSON(again)) {
		t.Fatalf("export differs after import:\n%s\n%s", f.Codec.MustMarshalJSON(exported), g.Codec.MustMarshalJSON(again))
	}
	if len(exported.Providers) != 3 {
		t.Fatalf("exported %d providers, want 3", len(exported.Providers))
	}
	resp, err := g.Query.Providers(g.Ctx, &types.QueryProvidersRequest{Status: types.PROVIDER_STATUS_REVOKED})
	if err != nil || len(resp.Providers) != 1 || resp.Providers[0].Provider.Address != tk.Address("p2") {
		t.Fatalf("status index after import = %+v, %v", resp, err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUpperCaseAddressesAreRefused(t *testing.T) {
	f := tk.NewProvidersFixture(t)
	m := validApply(applicant)
	m.Applicant = strings.ToUpper(m.Applicant)
	_, err := f.Msg.ApplyProvider(f.Ctx, m)
	assertRegisteredError(t, err, types.ErrInvalidAddress)
	gs := types.GenesisState{Params: types.DefaultParams(), Providers: []types.Provider{tk.ValidProvider("p1", types.PROVIDER_STATUS_ACTIVE)}}
	gs.Providers[0].Address = strings.ToUpper(gs.Providers[0].Address)
	if err := gs.Validate(tk.AddressCodec); err == nil {
		t.Fatal("genesis with an upper-case provider address accepted")
	}
}
