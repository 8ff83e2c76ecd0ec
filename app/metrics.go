package app

import (
	"encoding/json"
	"errors"
	"strconv"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"

	errorsmod "cosmossdk.io/errors"

	"github.com/healthd-chain/healthd/internal/metrics"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// chainMetrics are healthd's own Prometheus metrics of the chain, served
// beside CometBFT's on the node's Prometheus endpoint (config.toml
// [instrumentation]). They count what committed blocks did — never CheckTx,
// simulation or recheck: FinalizeBlock's results are read, and added at
// Commit. Labels are closed vocabularies (data class, purpose, verdict, error
// name); no address, record id or hash is ever a label.
type chainMetrics struct {
	blocks    prometheus.Counter
	txs       *prometheus.CounterVec
	records   *prometheus.CounterVec
	erased    prometheus.Counter
	receipts  *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	consents  *prometheus.CounterVec
	emergency *prometheus.CounterVec
	reviews   *prometheus.CounterVec
	releases  prometheus.Counter

	pending []func()
}

func newChainMetrics(reg prometheus.Registerer) *chainMetrics {
	counter := func(name, help string) prometheus.Counter {
		return metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: name, Help: help}))
	}
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: name, Help: help}, labels))
	}
	m := &chainMetrics{
		blocks:    counter("blocks_committed_total", "Blocks this node committed."),
		txs:       vec("txs_committed_total", "Transactions in committed blocks, by result (ok or refused).", "result"),
		records:   vec("records_committed_total", "Records committed, by data class and kind (created or amended).", "class", "kind"),
		erased:    counter("records_erased_total", "Records erased (each erasure of an amendment chain counts once)."),
		receipts:  vec("receipts_total", "Access receipts (reads) committed, by purpose and whether under a break-glass access.", "purpose", "emergency"),
		refusals:  vec("tx_refusals_total", "Transactions refused in committed blocks, by codespace and error (e.g. records / access denied).", "codespace", "reason"),
		consents:  vec("consent_events_total", "Consent changes committed: granted, revoked, expired.", "event"),
		emergency: vec("emergency_accesses_total", "Break-glass accesses opened, by coded reason.", "reason"),
		reviews:   vec("emergency_reviews_total", "Reviews of break-glass accesses, by verdict.", "verdict"),
		releases:  counter("key_shares_released_total", "Escrowed key shares released by custodians to a provider in break-glass."),
	}
	// every series of a closed vocabulary starts at 0, so that dashboards and
	// alerts see 0 rather than no data
	for _, result := range []string{"ok", "refused"} {
		m.txs.WithLabelValues(result)
	}
	for _, class := range consenttypes.DataClasses {
		m.records.WithLabelValues(class, "created")
		m.records.WithLabelValues(class, "amended")
	}
	for _, purpose := range consenttypes.Purposes {
		m.receipts.WithLabelValues(purpose, "false")
		m.receipts.WithLabelValues(purpose, "true")
	}
	for _, event := range []string{"granted", "revoked", "expired"} {
		m.consents.WithLabelValues(event)
	}
	for code, name := range consenttypes.EmergencyReason_name {
		if code != 0 {
			m.emergency.WithLabelValues(name)
		}
	}
	for _, verdict := range []consenttypes.ReviewState{consenttypes.REVIEW_STATE_JUSTIFIED, consenttypes.REVIEW_STATE_ABUSIVE} {
		m.reviews.WithLabelValues(verdict.String())
	}
	return m
}

// observe reads a block's results; the counts are added at commit.
func (m *chainMetrics) observe(resp *abci.ResponseFinalizeBlock) {
	m.pending = m.pending[:0]
	add := func(f func()) { m.pending = append(m.pending, f) }
	add(m.blocks.Inc)
	for _, tx := range resp.TxResults {
		if tx.Code != 0 {
			add(m.txs.WithLabelValues("refused").Inc)
			add(m.refusals.WithLabelValues(tx.Codespace, refusalReason(tx.Codespace, tx.Code)).Inc)
			continue // a failed transaction's events are not committed
		}
		add(m.txs.WithLabelValues("ok").Inc)
		for _, ev := range tx.Events {
			m.event(ev, add)
		}
	}
	for _, ev := range resp.Events {
		m.event(ev, add)
	}
}

// commit adds the last observed block's counts.
func (m *chainMetrics) commit() {
	for _, f := range m.pending {
		f()
	}
	m.pending = m.pending[:0]
}

func (m *chainMetrics) event(ev abci.Event, add func(func())) {
	switch ev.Type {
	case "healthd.records.v1.EventRecordCreated":
		add(m.records.WithLabelValues(attr(ev, "data_class"), "created").Inc)
	case "healthd.records.v1.EventRecordAmended":
		add(m.records.WithLabelValues(attr(ev, "data_class"), "amended").Inc)
	case "healthd.records.v1.EventRecordErased":
		add(m.erased.Inc)
	case "healthd.records.v1.EventRecordAccessed":
		add(m.receipts.WithLabelValues(attr(ev, "purpose"), strconv.FormatBool(attr(ev, "emergency") == "true")).Inc)
	case "healthd.consent.v1.EventConsentGranted":
		add(m.consents.WithLabelValues("granted").Inc)
	case "healthd.consent.v1.EventConsentRevoked":
		add(m.consents.WithLabelValues("revoked").Inc)
	case "healthd.consent.v1.EventConsentExpired":
		add(m.consents.WithLabelValues("expired").Inc)
	case "healthd.consent.v1.EventEmergencyAccessStarted":
		add(m.emergency.WithLabelValues(attr(ev, "reason")).Inc)
	case "healthd.consent.v1.EventEmergencyAccessReviewed":
		add(m.reviews.WithLabelValues(attr(ev, "verdict")).Inc)
	case "healthd.consent.v1.EventKeySharesReleased":
		add(m.releases.Inc)
	}
}

// attr is a typed event's attribute as a plain string (typed events carry
// JSON values: "\"lab-result\"", "true"). Only closed-vocabulary attributes
// are asked for.
func attr(ev abci.Event, key string) string {
	for _, a := range ev.Attributes {
		if a.Key != key {
			continue
		}
		var s string
		if json.Unmarshal([]byte(a.Value), &s) == nil {
			return s
		}
		return a.Value
	}
	return ""
}

// refusalReason names a refused transaction's error by its registered
// description ("access denied"), a closed set per codespace.
func refusalReason(codespace string, code uint32) string {
	var e *errorsmod.Error
	if errors.As(errorsmod.ABCIError(codespace, code, "refused"), &e) {
		return e.Error()
	}
	return "code " + strconv.FormatUint(uint64(code), 10)
}
