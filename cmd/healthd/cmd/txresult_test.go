package cmd

import (
	"strings"
	"testing"
)

func TestParseTxResult(t *testing.T) {
	tests := []struct {
		name   string
		out    string
		ok     bool
		expect txResult
	}{
		{
			name:   "json accepted by the mempool",
			out:    `{"height":"0","txhash":"ABC","codespace":"","code":0,"raw_log":""}`,
			ok:     true,
			expect: txResult{TxHash: "ABC", Height: "0"},
		},
		{
			name:   "json rejected by CheckTx",
			out:    `{"height":"0","txhash":"ABC","codespace":"sdk","code":13,"raw_log":"insufficient fee"}` + "\n",
			ok:     true,
			expect: txResult{TxHash: "ABC", Height: "0", Code: 13, Codespace: "sdk", RawLog: "insufficient fee"},
		},
		{
			name:   "yaml (--output text)",
			out:    "code: 5\ncodespace: sdk\ndata: \"\"\nheight: \"12\"\nraw_log: 'spendable balance 0foo is smaller than 5foo'\ntxhash: DEF\n",
			ok:     true,
			expect: txResult{TxHash: "DEF", Height: "12", Code: 5, Codespace: "sdk", RawLog: "spendable balance 0foo is smaller than 5foo"},
		},
		{name: "unsigned tx from --generate-only", out: `{"body":{"messages":[]},"auth_info":{},"signatures":[]}`},
		{name: "empty output", out: ""},
		{name: "not json", out: "{broken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseTxResult([]byte(tc.out))
			if ok != tc.ok || got != tc.expect {
				t.Fatalf("parseTxResult = %+v, %v; want %+v, %v", got, ok, tc.expect, tc.ok)
			}
		})
	}
}

func TestCappedBufferKeepsAtMostItsLimit(t *testing.T) {
	b := &cappedBuffer{limit: 4}
	n, err := b.Write([]byte("abcdef"))
	if n != 6 || err != nil {
		t.Fatalf("Write = %d, %v; want the full length and no error", n, err)
	}
	_, _ = b.Write([]byte("gh"))
	if got := string(b.Bytes()); got != "abcd" {
		t.Fatalf("captured %q, want %q", got, "abcd")
	}
}

func TestArgName(t *testing.T) {
	root, err := NewRootCmd()
	if err != nil {
		t.Fatal(err)
	}
	send, _, err := root.Find([]string{"tx", "bank", "send"})
	if err != nil {
		t.Fatal(err)
	}
	if got := argName(send, 1); !strings.Contains(got, "to_address") {
		t.Fatalf("argName(send, 1) = %q, want the recipient argument", got)
	}
	if !isTxCommand(send) {
		t.Fatal("tx bank send is not recognised as a tx command")
	}
	balances, _, err := root.Find([]string{"query", "bank", "balances"})
	if err != nil {
		t.Fatal(err)
	}
	if isTxCommand(balances) {
		t.Fatal("query bank balances is taken for a tx command")
	}
}
