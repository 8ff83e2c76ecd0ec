package app

import (
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	sdk "github.com/cosmos/cosmos-sdk/types"

	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

func typedEvent(t *testing.T, msg interface{ ProtoMessage() }) abci.Event {
	t.Helper()
	ev, err := sdk.TypedEventToEvent(msg.(sdk.Msg))
	if err != nil {
		t.Fatal(err)
	}
	return abci.Event(ev)
}

// TestChainMetricsCountCommittedBlocks: the counts of a block appear only once
// it is committed, from its events as the modules emit them; a refused
// transaction counts as a refusal by its error's name and its events not at
// all; a block observed but never committed (a FinalizeBlock that was not
// followed by Commit) counts nothing.
func TestChainMetricsCountCommittedBlocks(t *testing.T) {
	m := newChainMetrics(prometheus.NewRegistry())
	created := typedEvent(t, &recordstypes.EventRecordCreated{Id: 1, DataClass: "lab-result"})
	read := typedEvent(t, &recordstypes.EventRecordAccessed{ReceiptId: 1, Purpose: "ETREAT", Emergency: true})
	granted := typedEvent(t, &consenttypes.EventConsentGranted{Id: 1})
	expired := typedEvent(t, &consenttypes.EventConsentExpired{Id: 2})
	block := &abci.ResponseFinalizeBlock{
		TxResults: []*abci.ExecTxResult{
			{Code: 0, Events: []abci.Event{created, created, granted}},
			{Code: 0, Events: []abci.Event{read}},
			{Code: recordstypes.ErrAccessDenied.ABCICode(), Codespace: recordstypes.ErrAccessDenied.Codespace(), Events: []abci.Event{created}},
		},
		Events: []abci.Event{expired},
	}

	// a block that is never committed
	m.observe(block)
	m.observe(&abci.ResponseFinalizeBlock{})
	m.commit()
	if got := testutil.ToFloat64(m.records.WithLabelValues("lab-result", "created")); got != 0 {
		t.Fatalf("an uncommitted block's records were counted: %v", got)
	}

	m.observe(block)
	if got := testutil.ToFloat64(m.records.WithLabelValues("lab-result", "created")); got != 0 {
		t.Fatalf("counted before commit: %v", got)
	}
	m.commit()
	for name, c := range map[string]prometheus.Collector{
		"records created":     m.records.WithLabelValues("lab-result", "created"),
		"emergency receipt":   m.receipts.WithLabelValues("ETREAT", "true"),
		"consents granted":    m.consents.WithLabelValues("granted"),
		"consents expired":    m.consents.WithLabelValues("expired"),
		"access denied":       m.refusals.WithLabelValues("records", recordstypes.ErrAccessDenied.Error()),
		"refused txs":         m.txs.WithLabelValues("refused"),
		"ok txs":              m.txs.WithLabelValues("ok"),
		"blocks (two, empty)": m.blocks,
	} {
		want := 1.0
		switch name {
		case "records created", "ok txs", "blocks (two, empty)":
			want = 2
		}
		if got := testutil.ToFloat64(c); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
