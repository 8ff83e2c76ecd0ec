package localnet

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// GetJSON GETs url (a loopback URL of a local node) and decodes its JSON body
// into out; a status other than 200 is an error quoting the body.
func GetJSON(url string, out any) error {
	resp, err := http.Get(url) //nolint:gosec // loopback URLs built by the tooling
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.300s", url, resp.Status, body)
	}
	return json.Unmarshal(body, out)
}

// NodeStatus is what a node's CometBFT RPC /status says of it.
type NodeStatus struct {
	ChainID        string
	LatestHeight   int64
	EarliestHeight int64
	CatchingUp     bool
}

// Status reads /status from the node's RPC base URL (http://host:port).
func Status(rpc string) (NodeStatus, error) {
	var st struct {
		Result struct {
			NodeInfo struct {
				Network string `json:"network"`
			} `json:"node_info"`
			SyncInfo struct {
				Latest     string `json:"latest_block_height"`
				Earliest   string `json:"earliest_block_height"`
				CatchingUp bool   `json:"catching_up"`
			} `json:"sync_info"`
		} `json:"result"`
	}
	if err := GetJSON(rpc+"/status", &st); err != nil {
		return NodeStatus{}, err
	}
	out := NodeStatus{ChainID: st.Result.NodeInfo.Network, CatchingUp: st.Result.SyncInfo.CatchingUp}
	var err error
	if out.LatestHeight, err = strconv.ParseInt(st.Result.SyncInfo.Latest, 10, 64); err != nil {
		return out, fmt.Errorf("latest_block_height %q: %w", st.Result.SyncInfo.Latest, err)
	}
	if out.EarliestHeight, err = strconv.ParseInt(st.Result.SyncInfo.Earliest, 10, 64); err != nil {
		return out, fmt.Errorf("earliest_block_height %q: %w", st.Result.SyncInfo.Earliest, err)
	}
	return out, nil
}
