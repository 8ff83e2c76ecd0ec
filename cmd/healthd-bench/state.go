package main

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	mathrand "math/rand"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cosmos/gogoproto/proto"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/app"
	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/internal/localnet"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providertypes "github.com/healthd-chain/healthd/x/providers/types"
	recordtypes "github.com/healthd-chain/healthd/x/records/types"
)

// The state-growth benchmark: for each size N, a fresh one-validator chain
// whose genesis holds N records and N consents (N/10 patients with 10 of each,
// spread over up to 1,000 providers), then query latency over gRPC, one query
// at a time: CheckAccess (allowed and denied), Record by id and
// RecordsByPatient. Every answer is checked against what was loaded, so a
// wrong or empty state fails the run instead of looking fast.

const (
	perPatient   = 10   // records and consents per patient
	maxProviders = 1000 // grantees and authors
)

// StateReport is the machine-readable result of the state-growth benchmark.
type StateReport struct {
	Date     string      `json:"date"`
	Machine  string      `json:"machine"`
	Queries  int         `json:"queries_per_kind"`
	Settings string      `json:"settings,omitempty"` // the node's app.toml and config.toml overrides (-app-toml, -config-toml)
	GoEnv    string      `json:"go_env,omitempty"`   // GOGC and GOMEMLIMIT the node ran with, if set
	Sizes    []StateSize `json:"sizes"`
}

// StateSize is one state size and the latencies measured on it.
type StateSize struct {
	Records   int                     `json:"records"`
	Consents  int                     `json:"consents"`
	Patients  int                     `json:"patients"`
	Providers int                     `json:"providers"`
	LoadSecs  float64                 `json:"load_s"` // committing the consents and records by transactions
	AppDBMiB  float64                 `json:"application_db_mib"`
	RSSMiB    float64                 `json:"rss_after_queries_mib"`
	PeakRSS   float64                 `json:"peak_rss_mib"` // the node's high-water mark (VmHWM) over its life: genesis, load and queries
	Latency   map[string]QueryLatency `json:"latency_ms"`
}

// QueryLatency is the latency distribution of one query kind, in milliseconds.
type QueryLatency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Mean float64 `json:"mean"`
}

// stateFixture is the state of one size: who exists, and what was loaded,
// for building queries and checking their answers.
type stateFixture struct {
	patients  []*account
	providers []*account
	records   int // records (and consents) loaded
	// first ids the loaded consents and records get (genesis may hold some)
	firstConsent, firstRecord uint64
}

func newStateFixture(n int) *stateFixture {
	f := &stateFixture{records: n}
	derive := func(kind string, i int) *account {
		key := secp256k1.GenPrivKeyFromSecret([]byte(fmt.Sprintf("healthd-bench-%s-%d", kind, i)))
		addr := sdk.AccAddress(key.PubKey().Address())
		return &account{key: key, addr: addr, bech32: addr.String()}
	}
	for i := range n / perPatient {
		f.patients = append(f.patients, derive("patient", i))
	}
	for i := range min(maxProviders, n) {
		f.providers = append(f.providers, derive("provider", i))
	}
	return f
}

// grantee of the j-th consent (and author of the j-th record) of patient p: ten
// distinct providers per patient.
func (f *stateFixture) grantee(p, j int) *account {
	return f.providers[(p*perPatient+j)%len(f.providers)]
}

func benchAddress(kind string, i int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("healthd-bench-%s-%d", kind, i)))
	return sdk.AccAddress(h[:20]).String()
}

// prepareGenesis writes the fixture's accounts into the genesis at path:
// patients (registered, all with one shared encryption key: the benchmark
// never decrypts) and providers (active registry entries). Nothing in them is
// medical data or an identifier: addresses derive from counters.
func (f *stateFixture) prepareGenesis(cdc codec.JSONCodec, path string, now time.Time) error {
	seed := sha512.Sum512([]byte("healthd-bench-state-key"))
	key, err := crypto.DeriveEncryptionKey(seed[:])
	if err != nil {
		return err
	}
	pub := key.PublicKey().Bytes()
	var gen []localnet.GenesisAccount
	for _, p := range f.patients {
		gen = append(gen, localnet.GenesisAccount{Address: p.bech32, Amount: 1, PatientKey: pub})
	}
	for _, p := range f.providers {
		gen = append(gen, localnet.GenesisAccount{Address: p.bech32, Amount: 1})
	}
	if err := localnet.AddGenesisAccounts(path, app.BondDenom, gen, now); err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var appState map[string]json.RawMessage
	if err := json.Unmarshal(doc["app_state"], &appState); err != nil {
		return fmt.Errorf("%s: app_state: %w", path, err)
	}
	var prov providertypes.GenesisState
	var cons consenttypes.GenesisState
	var recs recordtypes.GenesisState
	for name, gs := range map[string]proto.Message{"providers": &prov, "consent": &cons, "records": &recs} {
		if err := cdc.UnmarshalJSON(appState[name], gs); err != nil {
			return fmt.Errorf("%s: %s state: %w", path, name, err)
		}
	}
	f.firstConsent, f.firstRecord = cons.NextConsentId, recs.NextRecordId
	for i, p := range f.providers {
		ch := sha256.Sum256([]byte(p.bech32))
		prov.Providers = append(prov.Providers, providertypes.Provider{
			Address: p.bech32, Name: fmt.Sprintf("Bench provider %d", i), Kind: providertypes.PROVIDER_KIND_HOSPITAL,
			LicenseId: fmt.Sprintf("BENCH-%d", i), Jurisdiction: "DE", EncryptionKey: pub,
			VaultEndpoint: "https://vault.bench.invalid", Status: providertypes.PROVIDER_STATUS_ACTIVE,
			CredentialExpiresAt: now.AddDate(10, 0, 0), CredentialHash: ch[:], RegisteredAt: now, UpdatedAt: now,
		})
	}
	if appState["providers"], err = cdc.MarshalJSON(&prov); err != nil {
		return err
	}
	if doc["app_state"], err = json.Marshal(appState); err != nil {
		return err
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// load commits the fixture's consents, then its records, through ordinary
// signed transactions: each patient grants its ten consents in one
// transaction (ten MsgGrantConsent), then each provider files the records it
// authors, up to 100 MsgCreateRecords (one entry each) per transaction. The
// state so built is what a chain that lived through those transactions holds,
// with one IAVL version per block. It checks at the end that the last consent
// and record exist, so a transaction that failed in its block cannot go
// unnoticed.
func (f *stateFixture) load(ctx context.Context, n *node, txCfg client.TxConfig, chainID string) error {
	if err := n.loadAccountNumbers(append(slices.Clone(f.patients), f.providers...)); err != nil {
		return err
	}
	var consentTxs [][]sdk.Msg
	var consentSigners []*account
	for p, patient := range f.patients {
		msgs := make([]sdk.Msg, perPatient)
		for j := range perPatient {
			msgs[j] = &consenttypes.MsgGrantConsent{
				Signer: patient.bech32, Patient: patient.bech32, Grantee: f.grantee(p, j).bech32,
				Permissions: []string{"read", "write"}, DataClasses: []string{"lab-result", "diagnosis"}, Purposes: []string{"TREAT"},
				Duration: 365 * 24 * time.Hour,
			}
		}
		consentTxs, consentSigners = append(consentTxs, msgs), append(consentSigners, patient)
	}
	if err := submitAll(ctx, n, txCfg, chainID, "consents", consentTxs, consentSigners); err != nil {
		return err
	}
	byAuthor := map[*account][]sdk.Msg{}
	for p, patient := range f.patients {
		for j := range perPatient {
			author := f.grantee(p, j)
			var counter [16]byte
			binary.BigEndian.PutUint64(counter[:8], uint64(p))
			binary.BigEndian.PutUint64(counter[8:], uint64(j))
			hash := sha256.Sum256(counter[:])
			envelope := sha512.Sum512(hash[:]) // 64 bytes, about an AES-256-GCM-wrapped data key (60)
			byAuthor[author] = append(byAuthor[author], &recordtypes.MsgCreateRecords{
				Author: author.bech32, Patient: patient.bech32, Purpose: "TREAT", Entries: []recordtypes.RecordEntry{{
					DataClass: "lab-result", FhirResourceType: "Observation", ContentHash: hash[:], Size_: 4096,
					StorageUri: fmt.Sprintf("vault://vault.bench.invalid/%x", hash), KeyEnvelope: envelope[:], KeyEpoch: 1,
				}},
			})
		}
	}
	var recordTxs [][]sdk.Msg
	var recordSigners []*account
	for _, author := range f.providers {
		msgs := byAuthor[author]
		for len(msgs) > 0 {
			k := min(100, len(msgs))
			recordTxs, recordSigners = append(recordTxs, msgs[:k]), append(recordSigners, author)
			msgs = msgs[k:]
		}
	}
	if err := submitAll(ctx, n, txCfg, chainID, "records", recordTxs, recordSigners); err != nil {
		return err
	}
	last := func(path string, id uint64) error {
		var v map[string]any
		if err := getJSON(fmt.Sprintf("%s%s/%d", n.api, path, id), &v); err != nil {
			return fmt.Errorf("after loading, %s/%d is missing: %w", path, id, err)
		}
		if err := getJSON(fmt.Sprintf("%s%s/%d", n.api, path, id+1), &v); err == nil {
			return fmt.Errorf("after loading, %s/%d exists: more was committed than sent", path, id+1)
		}
		return nil
	}
	total := uint64(len(f.patients) * perPatient)
	if err := last("/healthd/consent/v1/consents", f.firstConsent+total-1); err != nil {
		return err
	}
	return last("/healthd/records/v1/records", f.firstRecord+total-1)
}

// submitAll signs one transaction per msgs[i] by signers[i] and sends them
// all over node0's RPC, keeping the mempool under 2,000 transactions, then
// waits until the mempool is empty. A CheckTx refusal stops it.
func submitAll(ctx context.Context, n *node, txCfg client.TxConfig, chainID, what string, msgs [][]sdk.Msg, signers []*account) error {
	if len(msgs) == 0 {
		return nil
	}
	rng := mathrand.New(mathrand.NewSource(1)) //nolint:gosec // mock tx memo, not secrets
	signTx := func(i int, gas uint64) ([]byte, error) { return signers[i].signTx(rng, txCfg, chainID, msgs[i], gas) }
	probe, err := signTx(0, 100_000_000)
	if err != nil {
		return err
	}
	used, err := simulateGas(n, probe)
	if err != nil {
		return fmt.Errorf("simulating a %s transaction: %w", what, err)
	}
	start := time.Now()
	const chunk, workers = 500, 16
	for lo := 0; lo < len(msgs); lo += chunk {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for {
			m, err := n.mempoolSize()
			if err != nil {
				return err
			}
			if m < 2000 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		hi := min(len(msgs), lo+chunk)
		txs := make([][]byte, 0, hi-lo)
		for i := lo; i < hi; i++ {
			// the largest transactions (a provider's last batch is smaller) get the probe's margin
			bz, err := signTx(i, used*3/2+50_000)
			if err != nil {
				return err
			}
			signers[i].nextSeq++
			txs = append(txs, bz)
		}
		// one signer's transactions go through one worker, in sequence order:
		// CheckTx refuses a sequence that arrives before its predecessor
		errs := make(chan error, len(txs))
		queues := make([]chan []byte, workers)
		var wg sync.WaitGroup
		for w := range queues {
			queues[w] = make(chan []byte, len(txs))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for tx := range queues[w] {
					// a full mempool (by count or bytes) is back-pressure, not a failure
					err := n.broadcastSync(tx)
					var rpcErr *rpcError
					for wait := 0; errors.As(err, &rpcErr) && rpcErr.mempoolFull() && wait < 600; wait++ {
						time.Sleep(100 * time.Millisecond)
						err = n.broadcastSync(tx)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		for k, tx := range txs {
			queues[signers[lo+k].number%workers] <- tx
		}
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return fmt.Errorf("loading %s: %w", what, err)
		}
		fmt.Printf("\r  %s: %d/%d transactions sent", what, hi, len(msgs))
	}
	for {
		m, err := n.mempoolSize()
		if err != nil {
			return err
		}
		if m == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	h, err := n.height()
	if err != nil {
		return err
	}
	for {
		if now, err := n.height(); err == nil && now > h {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Printf(", all committed in %.0fs\n", time.Since(start).Seconds())
	return nil
}

// queryKinds are the measured queries: each builds request i against the
// fixture, runs it and checks the answer.
func queryKinds(conn *grpc.ClientConn, f *stateFixture) map[string]func(ctx context.Context, rng *rand.Rand) error {
	cq, rq := consenttypes.NewQueryClient(conn), recordtypes.NewQueryClient(conn)
	return map[string]func(ctx context.Context, rng *rand.Rand) error{
		"check-access-allowed": func(ctx context.Context, rng *rand.Rand) error {
			p, j := rng.IntN(len(f.patients)), rng.IntN(perPatient)
			res, err := cq.CheckAccess(ctx, &consenttypes.QueryCheckAccessRequest{
				Patient: f.patients[p].bech32, Grantee: f.grantee(p, j).bech32, DataClass: "lab-result", Permission: "read", Purpose: "TREAT",
			})
			if err == nil && !res.Allowed {
				err = fmt.Errorf("patient %d's consent %d does not allow: %s", p, j, res.Reason)
			}
			return err
		},
		"check-access-denied": func(ctx context.Context, rng *rand.Rand) error {
			p := rng.IntN(len(f.patients))
			res, err := cq.CheckAccess(ctx, &consenttypes.QueryCheckAccessRequest{
				Patient: f.patients[p].bech32, Grantee: benchAddress("stranger", p), DataClass: "lab-result", Permission: "read", Purpose: "TREAT",
			})
			if err == nil && (res.Allowed || res.Reason != consenttypes.ACCESS_REASON_NO_CONSENT) {
				err = fmt.Errorf("a stranger to patient %d: allowed %v, %s", p, res.Allowed, res.Reason)
			}
			return err
		},
		"record-by-id": func(ctx context.Context, rng *rand.Rand) error {
			id := f.firstRecord + uint64(rng.IntN(f.records))
			res, err := rq.Record(ctx, &recordtypes.QueryRecordRequest{Id: id})
			if err == nil && res.Record.Id != id {
				err = fmt.Errorf("record %d: got %d", id, res.Record.Id)
			}
			return err
		},
		"records-by-patient": func(ctx context.Context, rng *rand.Rand) error {
			p := rng.IntN(len(f.patients))
			res, err := rq.RecordsByPatient(ctx, &recordtypes.QueryRecordsByPatientRequest{
				Patient: f.patients[p].bech32, Pagination: &query.PageRequest{Limit: 100},
			})
			if err == nil && len(res.Records) != min(perPatient, f.records) {
				err = fmt.Errorf("patient %d: %d records, want %d", p, len(res.Records), min(perPatient, f.records))
			}
			return err
		},
	}
}

// measureQueries runs warmup+count queries of each kind, one at a time, and
// returns the latency distribution of the last count.
func measureQueries(ctx context.Context, n *node, cdc *codec.ProtoCodec, f *stateFixture, warmup, count int) (map[string]QueryLatency, error) {
	conn, err := grpc.NewClient(n.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(cdc.GRPCCodec())))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	out := map[string]QueryLatency{}
	kinds := queryKinds(conn, f)
	names := make([]string, 0, len(kinds))
	for name := range kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		rng := rand.New(rand.NewPCG(uint64(len(name)), 7)) //nolint:gosec // query choice, not secrets
		lat := make([]float64, 0, count)
		for i := range warmup + count {
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			start := time.Now()
			err := kinds[name](qctx, rng)
			took := time.Since(start)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if i >= warmup {
				lat = append(lat, float64(took.Microseconds())/1000)
			}
		}
		var sum float64
		for _, l := range lat {
			sum += l
		}
		slices.Sort(lat)
		out[name] = QueryLatency{P50: percentile(lat, 0.50), P95: percentile(lat, 0.95), P99: percentile(lat, 0.99), Mean: sum / float64(len(lat))}
	}
	return out, nil
}

// runStateGrowth is the -state-sizes mode of the tool.
// With pprof set, the node serves its Go profiles there and a heap profile is
// saved as heap-N.pb.gz after the queries of each size.
func runStateGrowth(ctx context.Context, bin, configPath, out string, sizes []int, queries int, pprof, settings string, over overrides,
	cdc *codec.ProtoCodec, txCfg client.TxConfig,
) error {
	rep := StateReport{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Queries: queries, Settings: strings.TrimSpace(settings), GoEnv: goEnv()}
	for _, size := range sizes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		home := filepath.Join(out, fmt.Sprintf("state-%d", size), "node")
		f := newStateFixture(size)
		fmt.Printf("state of %d records and %d consents (%d patients, %d providers):\n", size, size, len(f.patients), len(f.providers))
		prepare := func(path string) error { return f.prepareGenesis(cdc, path, time.Now().UTC()) }
		// a mempool of 20,000 txs (160 MB): batches of 100 records are 37 kB each
		n, err := startNode(ctx, bin, configPath, home, newAccounts(2), 20000, pprof, over, prepare, 5*time.Minute)
		if err != nil {
			return err
		}
		s, err := measureState(ctx, n, f, cdc, txCfg, queries)
		if err == nil && pprof != "" {
			// a profile that cannot be fetched costs the profile, not the measurements
			if perr := saveProfile(ctx, "http://"+pprof+"/debug/pprof/heap", filepath.Join(out, fmt.Sprintf("heap-%d.pb.gz", size))); perr != nil {
				fmt.Fprintf(os.Stderr, "  no heap profile for %d records: %v\n", size, perr)
			}
		}
		n.stop()
		if err != nil {
			return fmt.Errorf("%d records: %w (node log in %s)", size, err, filepath.Dir(home))
		}
		s.AppDBMiB = float64(dirSize(filepath.Join(home, "data", "application.db"))) / (1 << 20)
		fmt.Printf("  CheckAccess p50 %.2f ms, p99 %.2f ms\n", s.Latency["check-access-allowed"].P50, s.Latency["check-access-allowed"].P99)
		rep.Sizes = append(rep.Sizes, s)
		// the node's home of a large size is gigabytes: keep only the log
		if err := os.RemoveAll(home); err != nil {
			return err
		}
		if err := writeStateReport(out, rep); err != nil { // after each size, so a later failure keeps it
			return err
		}
	}
	fmt.Print("\n" + stateMarkdown(rep))
	return nil
}

// writeStateReport writes state.json, state.md and state.svg into out.
func writeStateReport(out string, rep StateReport) error {
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	for name, body := range map[string]string{"state.json": string(raw) + "\n", "state.md": stateMarkdown(rep), "state.svg": stateChart(rep)} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

var stateQueryOrder = []string{"check-access-allowed", "check-access-denied", "record-by-id", "records-by-patient"}

// stateMarkdown is the human report of the state-growth benchmark.
func stateMarkdown(rep StateReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## healthd-bench state growth, %s (%s; %d queries of each kind, one at a time, over gRPC)\n\n", rep.Date, rep.Machine, rep.Queries)
	fmt.Fprintf(&b, "Node settings: %q, %s\n\n", rep.Settings, rep.GoEnv)
	b.WriteString("| records = consents | patients | load s | application.db MiB | RSS MiB (peak) |")
	for _, q := range stateQueryOrder {
		fmt.Fprintf(&b, " %s p50 / p99 ms |", q)
	}
	b.WriteString("\n|---:|---:|---:|---:|---:|" + strings.Repeat("---:|", len(stateQueryOrder)) + "\n")
	for _, s := range rep.Sizes {
		fmt.Fprintf(&b, "| %d | %d | %.0f | %.0f | %.0f (%.0f) |", s.Records, s.Patients, s.LoadSecs, s.AppDBMiB, s.RSSMiB, s.PeakRSS)
		for _, q := range stateQueryOrder {
			fmt.Fprintf(&b, " %.2f / %.2f |", s.Latency[q].P50, s.Latency[q].P99)
		}
		b.WriteString("\n")
	}
	if len(rep.Sizes) >= 2 {
		first, last := rep.Sizes[0], rep.Sizes[len(rep.Sizes)-1]
		b.WriteString("\nGrowth from the smallest to the largest state (p99 ratio):\n\n")
		for _, q := range stateQueryOrder {
			if first.Latency[q].P99 > 0 {
				fmt.Fprintf(&b, "- %s: %.2f ms → %.2f ms (× %.2f)\n", q, first.Latency[q].P99, last.Latency[q].P99, last.Latency[q].P99/first.Latency[q].P99)
			}
		}
	}
	return b.String()
}

// stateChart draws p50 (solid) and p99 (dashed) of each query kind against the
// state size on a log scale, as a self-contained SVG.
func stateChart(rep StateReport) string {
	const w, h, left, right, top, bottom = 760, 380, 70, 190, 30, 50
	minX, maxX, maxY := 1e18, 1.0, 0.1
	for _, s := range rep.Sizes {
		minX, maxX = min(minX, float64(s.Records)), max(maxX, float64(s.Records))
		for _, l := range s.Latency {
			maxY = max(maxY, l.P99)
		}
	}
	span := max(1e-9, math.Log10(maxX)-math.Log10(minX))
	x := func(v float64) float64 { return left + (math.Log10(v)-math.Log10(minX))/span*(w-left-right) }
	y := func(v float64) float64 { return h - bottom - v/maxY*(h-top-bottom) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18">gRPC query latency, p50 (solid) and p99 (dashed), vs records = consents in state — %s</text>`+"\n", left, rep.Date)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top, left, h-bottom)
	for _, s := range rep.Sizes {
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%d</text>`+"\n", x(float64(s.Records)), h-bottom+16, s.Records)
	}
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%.2f ms</text>`+"\n", left-6, y(f*maxY)+4, f*maxY)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">records and consents in state (log scale)</text>`+"\n", (w+left-right)/2, h-12)
	for i, q := range stateQueryOrder {
		c := colors[i%len(colors)]
		var p50, p99 []string
		for _, s := range rep.Sizes {
			p50 = append(p50, fmt.Sprintf("%.1f,%.1f", x(float64(s.Records)), y(s.Latency[q].P50)))
			p99 = append(p99, fmt.Sprintf("%.1f,%.1f", x(float64(s.Records)), y(s.Latency[q].P99)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(p50, " "))
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="6,4" points="%s"/>`+"\n", c, strings.Join(p99, " "))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", w-right+10, top+16+16*i, c, q)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// measureState loads the fixture into the running node, then measures the queries.
func measureState(ctx context.Context, n *node, f *stateFixture, cdc *codec.ProtoCodec, txCfg client.TxConfig, queries int) (StateSize, error) {
	chainID, err := n.chainID()
	if err != nil {
		return StateSize{}, err
	}
	start := time.Now()
	if err := f.load(ctx, n, txCfg, chainID); err != nil {
		return StateSize{}, err
	}
	took := time.Since(start)
	lat, err := measureQueries(ctx, n, cdc, f, max(100, queries/10), queries)
	if err != nil {
		return StateSize{}, err
	}
	return StateSize{
		Records: f.records, Consents: f.records, Patients: len(f.patients), Providers: len(f.providers),
		LoadSecs: took.Seconds(), RSSMiB: float64(n.rssBytes()) / (1 << 20), PeakRSS: float64(n.peakRSSBytes()) / (1 << 20), Latency: lat,
	}, nil
}

// goEnv names the Go runtime settings the node inherits from this process.
func goEnv() string {
	var parts []string
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(k); ok {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return "Go runtime defaults"
	}
	return strings.Join(parts, " ")
}

// saveProfile downloads a Go profile from the node's pprof endpoint to path.
func saveProfile(ctx context.Context, url, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req) //nolint:gosec // the node's loopback pprof address given by the operator
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s from %s", resp.Status, url)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
