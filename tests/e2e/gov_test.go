package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	govtypes "github.com/cosmos/cosmos-sdk/x/gov/types"

	"github.com/healthd-chain/healthd/testutil/network"
)

// govAuthority is the gov module account, the signer of a proposal's messages.
func govAuthority(t *testing.T) string {
	t.Helper()
	addr, err := addresscodec.NewBech32Codec("health").BytesToString(authtypes.NewModuleAddress(govtypes.ModuleName))
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// passProposal submits a governance proposal of msgs from node0's validator
// account, has every validator of net vote yes, waits until it passed, and
// returns its id.
func passProposal(t *testing.T, net *network.Network, title, summary string, msgs ...any) string {
	t.Helper()
	n0 := net.Nodes[0]
	raw, _ := json.Marshal(map[string]any{
		"messages": msgs, "deposit": "10000000uhealth", "title": title, "summary": summary, "expedited": false,
	})
	propFile := filepath.Join(t.TempDir(), "proposal.json")
	if err := os.WriteFile(propFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	n0.CLI("tx", "gov", "submit-proposal", propFile, "--from", "validator", "--gas", "auto", "--gas-adjustment", "1.5", "--yes")
	id := latestProposal(t, n0)
	for _, v := range net.Nodes {
		n0.CLI("tx", "gov", "vote", id, "yes", "--from", v.Name, "--yes")
	}
	waitProposalPassed(t, n0, id)
	return id
}

func latestProposal(t *testing.T, n *network.Node) string {
	t.Helper()
	var props struct {
		Proposals []struct {
			ID string `json:"id"`
		} `json:"proposals"`
	}
	if err := n.GetJSON("/cosmos/gov/v1/proposals?proposal_status=2", &props); err != nil || len(props.Proposals) == 0 {
		t.Fatalf("proposal in voting period: %+v %v", props, err)
	}
	return props.Proposals[len(props.Proposals)-1].ID
}

func waitProposalPassed(t *testing.T, n *network.Node, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var p struct {
			Proposal struct {
				Status string `json:"status"`
			} `json:"proposal"`
		}
		_ = n.GetJSON("/cosmos/gov/v1/proposals/"+id, &p)
		if p.Proposal.Status == "PROPOSAL_STATUS_PASSED" {
			return
		}
		if time.Now().After(deadline) || p.Proposal.Status == "PROPOSAL_STATUS_REJECTED" || p.Proposal.Status == "PROPOSAL_STATUS_FAILED" {
			t.Fatalf("proposal %s: %s", id, p.Proposal.Status)
		}
		time.Sleep(time.Second)
	}
}
