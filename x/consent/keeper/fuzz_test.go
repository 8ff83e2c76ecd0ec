package keeper_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/consent/types"
)

// FuzzConsentHandlers drives the consent handlers (grant, revoke, break-glass,
// review, delegate) with fuzzed fields against the keeper fixture of setup:
// any signer of the cast, any lists of permissions, classes and purposes, any
// duration, id, reason and verdict. A handler must return an error or
// succeed, never panic; a granted consent is stored as asked; and whatever
// happened, CheckAccess answers without error. Each input runs in a cache
// context of the same state.
func FuzzConsentHandlers(f *testing.F) {
	base, granted := setup(f)
	cast := append([]string{lab, bob}, roles...)
	f.Add(uint8(0), uint8(0), uint8(2), "read,write", "lab-result", "TREAT", int64(time.Hour), granted, int32(1), "ED")
	f.Add(uint8(1), uint8(0), uint8(0), "", "", "", int64(0), granted, int32(0), "")
	f.Add(uint8(2), uint8(2), uint8(0), "", "", "ETREAT", int64(time.Hour), uint64(0), int32(1), "ED admission")
	f.Add(uint8(3), uint8(5), uint8(0), "", "", "", int64(0), granted, int32(2), "")
	f.Add(uint8(4), uint8(0), uint8(6), "", "", "", int64(time.Hour), uint64(0), int32(0), "")
	f.Fuzz(func(t *testing.T, op, signer, other uint8, perms, classes, purposes string, duration int64, id uint64, code int32, note string) {
		ctx, _ := base.Ctx.CacheContext()
		who := func(i uint8) string { return tk.Address(cast[int(i)%len(cast)]) }
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		switch op % 5 {
		case 0:
			msg := &types.MsgGrantConsent{
				Signer: who(signer), Patient: who(signer), Grantee: who(other), Permissions: split(perms),
				DataClasses: split(classes), Purposes: split(purposes), Duration: time.Duration(duration),
			}
			resp, err := base.ConsentMsg.GrantConsent(ctx, msg)
			if err == nil {
				c, gerr := base.Consent.Consents.Get(ctx, resp.Id)
				if gerr != nil || c.Grantee != msg.Grantee || len(c.DataClasses) != len(msg.DataClasses) || !c.Period.End.After(c.Period.Start) {
					t.Fatalf("granted consent %d: %+v %v", resp.Id, c, gerr)
				}
			}
		case 1:
			_, _ = base.ConsentMsg.RevokeConsent(ctx, &types.MsgRevokeConsent{Signer: who(signer), ConsentId: id})
		case 2:
			_, _ = base.ConsentMsg.BreakGlass(ctx, &types.MsgBreakGlass{
				Provider: who(signer), Patient: who(other), Reason: types.EmergencyReason(code), Note: note, Duration: time.Duration(duration),
			})
		case 3:
			_, _ = base.ConsentMsg.ReviewEmergencyAccess(ctx, &types.MsgReviewEmergencyAccess{Reviewer: who(signer), ConsentId: id, Verdict: types.ReviewState(code)})
		case 4:
			_, _ = base.ConsentMsg.AddDelegate(ctx, &types.MsgAddDelegate{Patient: who(signer), Delegate: who(other), ExpiresAt: tk.GenesisTime.Add(time.Duration(duration))})
		}
		acc := func(name string) sdk.AccAddress {
			b, _ := tk.AddressCodec.StringToBytes(tk.Address(name))
			return b
		}
		for _, class := range split(classes) {
			_, err := base.Consent.CheckAccess(ctx, acc(alice), acc(cast[int(other)%len(cast)]), class, "read", "TREAT", time.Time{}, nil)
			if err != nil && !errors.Is(err, types.ErrInvalidAccessRequest) {
				t.Fatalf("CheckAccess after op %d: %v", op%5, err)
			}
		}
	})
}
