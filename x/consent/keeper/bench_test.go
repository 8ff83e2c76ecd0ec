package keeper_test

import (
	"fmt"
	"testing"
	"time"

	storetypes "cosmossdk.io/store/types"

	sdk "github.com/cosmos/cosmos-sdk/types"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
)

// BenchmarkCheckAccess is the access rule itself (no gRPC), over an in-memory
// store holding `patients` patients with 10 consents each (one to the
// hospital, nine to other registered accounts): the hot path of every read and write.
func BenchmarkCheckAccess(b *testing.B) {
	for _, patients := range []int{1_000, 10_000} {
		f := tk.NewConsentFixture(b)
		for g := range 9 { // a grantee must be registered
			f.RegisterPatient(b, fmt.Sprintf("grantee-%d", g))
		}
		addrs := make([]sdk.AccAddress, patients)
		for i := range patients {
			name := fmt.Sprintf("patient-%d", i)
			f.RegisterPatient(b, name)
			f.Grant(b, name, "hospital", 30*24*time.Hour)
			for g := range 9 {
				f.Grant(b, name, fmt.Sprintf("grantee-%d", g), 30*24*time.Hour)
			}
			bz, err := tk.AddressCodec.StringToBytes(tk.Address(name))
			if err != nil {
				b.Fatal(err)
			}
			addrs[i] = bz
		}
		// commit, as a node does every block: iterating an IAVL tree's
		// uncommitted writes sorts all of them first, which would make this
		// benchmark measure the fixture instead of the keeper
		f.Ctx.MultiStore().(storetypes.CommitMultiStore).Commit()
		hospital, _ := tk.AddressCodec.StringToBytes(tk.Address("hospital"))
		lab, _ := tk.AddressCodec.StringToBytes(tk.Address("lab"))
		for _, tc := range []struct {
			name    string
			grantee sdk.AccAddress
			allowed bool
		}{{"allowed", hospital, true}, {"denied", lab, false}} {
			b.Run(fmt.Sprintf("%s/consents=%d", tc.name, patients*10), func(b *testing.B) {
				i := 0
				for b.Loop() {
					d, err := f.Consent.CheckAccess(f.Ctx, addrs[i%patients], tc.grantee, "lab-result", "read", "TREAT", time.Time{}, nil)
					if err != nil || d.Allowed != tc.allowed {
						b.Fatalf("patient %d: %+v, %v", i%patients, d, err)
					}
					i++
				}
			})
		}
	}
}
