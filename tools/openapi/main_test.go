package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSpec(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMergeGivesUniqueOperationIDsAndKeepsTheRicherDefinition(t *testing.T) {
	dir := t.TempDir()
	bank := writeSpec(t, dir, "bank.json", `{"paths":{"/bank/params":{"get":{"operationId":"Query_Params","tags":["cosmos.bank.v1beta1.Query"]}}},
		"definitions":{"google.protobuf.Any":{"type":"object","properties":{"type_url":{"type":"string"}}}}}`)
	staking := writeSpec(t, dir, "staking.json", `{"paths":{"/staking/params":{"get":{"operationId":"Query_Params","tags":["cosmos.staking.v1beta1.Query"]}}},
		"definitions":{"google.protobuf.Any":{"type":"object","properties":{"type_url":{"type":"string","description":"A URL"}}}}}`)
	out := filepath.Join(dir, "out.json")

	if err := run([]string{bank, staking}, out); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(out)
	var doc struct {
		Paths       map[string]map[string]struct{ OperationID string } `json:"paths"`
		Definitions map[string]json.RawMessage                         `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Paths["/bank/params"]["get"].OperationID; got != "cosmos.bank.v1beta1.Query.Params" {
		t.Errorf("bank operation id = %q", got)
	}
	if got := doc.Paths["/staking/params"]["get"].OperationID; got != "cosmos.staking.v1beta1.Query.Params" {
		t.Errorf("staking operation id = %q", got)
	}
	if !strings.Contains(string(doc.Definitions["google.protobuf.Any"]), "A URL") {
		t.Errorf("kept the less documented definition: %s", doc.Definitions["google.protobuf.Any"])
	}
}

func TestMergeRefusesConflictingDefinitions(t *testing.T) {
	dir := t.TempDir()
	a := writeSpec(t, dir, "a.json", `{"definitions":{"x.Msg":{"type":"object","properties":{"id":{"type":"string"}}}}}`)
	b := writeSpec(t, dir, "b.json", `{"definitions":{"x.Msg":{"type":"object","properties":{"id":{"type":"integer"}}}}}`)
	err := run([]string{a, b}, filepath.Join(dir, "out.json"))
	if err == nil || !strings.Contains(err.Error(), `definition "x.Msg" is described differently`) {
		t.Fatalf("error = %v, want a conflict on x.Msg", err)
	}
}
