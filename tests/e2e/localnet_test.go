package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/healthd-chain/healthd/docs"
	"github.com/healthd-chain/healthd/testutil/network"
)

// TestLocalnet starts one node built from config.yml, the way `make localnet`
// does, and checks what a newcomer relies on. The subtests share the node.
func TestLocalnet(t *testing.T) {
	// given a running single-validator chain with the config.yml demo accounts
	n := network.StartNode(t)
	alice, bob := n.Address("alice"), n.Address("bob")

	t.Run("REST node_info names the chain", func(t *testing.T) {
		var info struct {
			DefaultNodeInfo struct {
				Network string `json:"network"`
			} `json:"default_node_info"`
		}
		if err := n.GetJSON("/cosmos/base/tendermint/v1beta1/node_info", &info); err != nil {
			t.Fatal(err)
		}
		if info.DefaultNodeInfo.Network != "healthd-local-1" {
			t.Fatalf("network = %q, want healthd-local-1", info.DefaultNodeInfo.Network)
		}
	})

	t.Run("bank send between demo accounts changes both balances", func(t *testing.T) {
		aliceBefore := restBalance(t, n, alice)
		bobBefore := restBalance(t, n, bob)

		// when alice sends 1234uhealth to bob with the CLI (fees are zero on localnet)
		var res struct {
			TxHash string `json:"txhash"`
			Code   uint32 `json:"code"`
		}
		n.CLIJSON(&res, "tx", "bank", "send", "alice", bob, "1234uhealth", "--yes")
		if res.Code != 0 || res.TxHash == "" {
			t.Fatalf("broadcast result: code %d, hash %q", res.Code, res.TxHash)
		}

		// then the committed tx is queryable and the balances moved by exactly 1234,
		// seen both over REST and over gRPC
		var committed struct {
			Code   uint32 `json:"code"`
			Height string `json:"height"`
		}
		n.CLIJSON(&committed, "query", "tx", res.TxHash)
		if committed.Code != 0 || committed.Height == "" || committed.Height == "0" {
			t.Fatalf("committed tx: code %d height %q", committed.Code, committed.Height)
		}
		if got := restBalance(t, n, bob); got != bobBefore+1234 {
			t.Fatalf("bob over REST = %d, want %d", got, bobBefore+1234)
		}
		if got := restBalance(t, n, alice); got != aliceBefore-1234 {
			t.Fatalf("alice over REST = %d, want %d", got, aliceBefore-1234)
		}
		q := banktypes.NewQueryClient(n.GRPCConn())
		resp, err := q.Balance(context.Background(), &banktypes.QueryBalanceRequest{Address: bob, Denom: "uhealth"})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Balance.Amount.Int64(); got != bobBefore+1234 {
			t.Fatalf("bob over gRPC = %d, want %d", got, bobBefore+1234)
		}
	})

	t.Run("bad input gets a clear error and a non-zero exit, never a panic", func(t *testing.T) {
		bobBefore := restBalance(t, n, bob)
		cases := []struct {
			name    string
			args    []string
			wantErr string
		}{
			{"bad recipient address", []string{"tx", "bank", "send", "alice", "health1notanaddress", "5uhealth", "--yes"}, "bech32"},
			{"unknown denom", []string{"tx", "bank", "send", "alice", bob, "5nosuchcoin", "--yes"}, "insufficient funds"},
			{"empty key name", []string{"tx", "bank", "send", "", bob, "5uhealth", "--yes"}, "argument 1 (from_key_or_address) is empty"},
			{"unknown key name", []string{"tx", "bank", "send", "mallory", bob, "5uhealth", "--yes"}, "mallory"},
			{"bad amount", []string{"tx", "bank", "send", "alice", bob, "five", "--yes"}, "invalid decimal coin expression"},
			{"empty key name for keys add", []string{"keys", "add", "", "--keyring-backend", "test"}, "name is invalid or empty"},
			{"bad address in a query", []string{"query", "bank", "balances", "health1xyz"}, "bech32"},
		}
		for _, tc := range cases {
			res := n.Exec(tc.args...)
			out := res.Stdout + res.Stderr
			if res.ExitCode == 0 {
				t.Errorf("%s: exit 0, want non-zero; output:\n%s", tc.name, out)
			}
			if !strings.Contains(res.Stderr, tc.wantErr) {
				t.Errorf("%s: stderr does not say %q:\n%s", tc.name, tc.wantErr, res.Stderr)
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("%s: output shows a panic or stack trace:\n%s", tc.name, out)
			}
		}
		// and none of the rejected sends moved any coins
		if got := restBalance(t, n, bob); got != bobBefore {
			t.Fatalf("bob = %d after rejected sends, want %d", got, bobBefore)
		}
	})

	t.Run("gRPC reflection lists the SDK services", func(t *testing.T) {
		services := listGRPCServices(t, n.GRPC)
		for _, want := range []string{
			"cosmos.auth.v1beta1.Query", "cosmos.bank.v1beta1.Query", "cosmos.staking.v1beta1.Query",
			"cosmos.gov.v1.Query", "cosmos.feegrant.v1beta1.Query", "cosmos.upgrade.v1beta1.Query",
			"cosmos.tx.v1beta1.Service", "cosmos.base.tendermint.v1beta1.Service",
		} {
			if !slices.Contains(services, want) {
				t.Errorf("reflection does not list %s; got %v", want, services)
			}
		}
	})

	t.Run("the node serves the generated OpenAPI description", func(t *testing.T) {
		body := httpGet(t, n.API+"/openapi.json")
		if string(body) != string(docs.OpenAPI()) {
			t.Fatal("/openapi.json differs from docs/static/openapi.json")
		}
		var spec struct {
			Paths map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(body, &spec); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/cosmos/bank/v1beta1/balances/{address}", "/cosmos/base/tendermint/v1beta1/node_info"} {
			if _, ok := spec.Paths[p]; !ok {
				t.Errorf("OpenAPI has no path %s", p)
			}
		}
		if ui := httpGet(t, n.API+"/swagger/"); !strings.Contains(string(ui), "swagger-ui") {
			t.Error("/swagger/ does not serve the Swagger UI")
		}
	})

	t.Run("genesis has finite block gas and size", func(t *testing.T) {
		var params struct {
			Params struct {
				Block struct {
					MaxBytes string `json:"max_bytes"`
					MaxGas   string `json:"max_gas"`
				} `json:"block"`
			} `json:"params"`
		}
		if err := n.GetJSON("/cosmos/consensus/v1/params", &params); err != nil {
			t.Fatal(err)
		}
		if params.Params.Block.MaxGas != "400000000" || params.Params.Block.MaxBytes != "8388608" {
			t.Fatalf("block params = %+v, want max_gas 400000000 and max_bytes 8388608", params.Params.Block)
		}
	})

	t.Run("HEALTHD_HOME stands for --home, keyring included", func(t *testing.T) {
		cmd := exec.Command(n.Binary, "keys", "show", "bob", "-a")
		cmd.Env = append(os.Environ(), "HEALTHD_HOME="+n.Home)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != bob {
			t.Fatalf("keys show bob with HEALTHD_HOME = %q, %v; want %s", out, err, bob)
		}
	})

	t.Run("version --long reports the commit", func(t *testing.T) {
		var v struct {
			Name   string `json:"name"`
			Commit string `json:"commit"`
		}
		if err := json.Unmarshal([]byte(n.CLI("version", "--long", "--output", "json")), &v); err != nil {
			t.Fatal(err)
		}
		root, err := network.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatalf("git rev-parse HEAD: %v", err)
		}
		if v.Name != "healthd" || v.Commit != strings.TrimSpace(string(head)) {
			t.Fatalf("version = %+v, want name healthd and commit %s", v, head)
		}
	})

	t.Run("a restarted node resumes its chain with its state", func(t *testing.T) {
		// given the chain's height and bob's balance before a stop
		before, err := n.Height()
		if err != nil {
			t.Fatal(err)
		}
		bobBefore := restBalance(t, n, bob)
		genesis, err := os.ReadFile(filepath.Join(n.Home, "config", "genesis.json"))
		if err != nil {
			t.Fatal(err)
		}

		// when the node is stopped and started again on the same home
		n.Stop()
		n.Start()

		// then it produces blocks after the old height, with the same genesis and state
		n.WaitForHeight(before+2, time.Minute)
		if got := restBalanceEventually(t, n, bob); got != bobBefore {
			t.Fatalf("bob = %d after restart, want %d", got, bobBefore)
		}
		after, err := os.ReadFile(filepath.Join(n.Home, "config", "genesis.json"))
		if err != nil {
			t.Fatal(err)
		}
		if string(after) != string(genesis) {
			t.Fatal("genesis.json changed across a restart")
		}
	})
}

// restBalance returns an account's uhealth balance read over REST.
func restBalance(t *testing.T, n *network.Node, addr string) int64 {
	t.Helper()
	var res struct {
		Balance struct {
			Amount json.Number `json:"amount"`
		} `json:"balance"`
	}
	if err := n.GetJSON("/cosmos/bank/v1beta1/balances/"+addr+"/by_denom?denom=uhealth", &res); err != nil {
		t.Fatal(err)
	}
	v, err := res.Balance.Amount.Int64()
	if err != nil {
		t.Fatalf("balance %q: %v", res.Balance.Amount, err)
	}
	return v
}

// restBalanceEventually retries restBalance while the REST server comes back up.
func restBalanceEventually(t *testing.T, n *network.Node, addr string) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var res struct {
			Balance struct {
				Amount json.Number `json:"amount"`
			} `json:"balance"`
		}
		err := n.GetJSON("/cosmos/bank/v1beta1/balances/"+addr+"/by_denom?denom=uhealth", &res)
		if err == nil {
			v, err := res.Balance.Amount.Int64()
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("REST did not come back: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec // loopback URL from the harness
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return body
}

// listGRPCServices lists the services the node announces through gRPC server
// reflection, as `grpcurl -plaintext ADDR list` does. It speaks the v1alpha
// reflection protocol because that is the one the Cosmos SDK node serves.
func listGRPCServices(t *testing.T, addr string) []string {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names
}
