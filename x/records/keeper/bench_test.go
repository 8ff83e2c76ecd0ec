package keeper_test

import (
	"fmt"
	"testing"

	storetypes "cosmossdk.io/store/types"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// BenchmarkCreateRecords is the CreateRecords handler (checks, record, its
// indexes, the event) over an in-memory store, for batches of 1 and 100
// entries, from a provider holding the patient's write consent. It reports
// records/s. The ante handler and the commit are in app's BenchmarkTxExecution.
func BenchmarkCreateRecords(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("entries=%d", batch), func(b *testing.B) {
			f := tk.NewRecordsFixture(b)
			f.RegisterPatient(b, alice)
			grant(b, f, hospital, "write")
			f.Ctx.MultiStore().(storetypes.CommitMultiStore).Commit()
			n := 0
			for b.Loop() {
				entries := make([]recordstypes.RecordEntry, batch)
				for j := range entries {
					entries[j] = tk.Entry("lab-result", fmt.Sprint(n))
					n++
				}
				resp, err := f.RecordsMsg.CreateRecords(f.Ctx, &recordstypes.MsgCreateRecords{
					Author: tk.Address(hospital), Patient: tk.Address(alice), Purpose: "TREAT", Entries: entries,
				})
				if err != nil || len(resp.Ids) != batch {
					b.Fatalf("%v, %v", resp, err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
