package localnet

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"time"
)

// GenesisAccount is an account added straight into a genesis file (the load
// generator funds thousands this way, which `genesis add-genesis-account`,
// one process per account, would take minutes to do).
type GenesisAccount struct {
	Address string
	// Amount of the bond denomination (denom) it holds.
	Amount int64
	// PatientKey, if set, registers the account as a patient with this HPKE
	// public key.
	PatientKey []byte
}

// AddGenesisAccounts adds accounts (base accounts with a balance of denom, and
// patient profiles where asked) to the genesis file at path, keeping the bank
// supply equal to the sum of balances.
func AddGenesisAccounts(path, denom string, accounts []GenesisAccount, registeredAt time.Time) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	state, _ := doc["app_state"].(map[string]any)
	auth, _ := state["auth"].(map[string]any)
	bank, _ := state["bank"].(map[string]any)
	consent, _ := state["consent"].(map[string]any)
	if auth == nil || bank == nil || consent == nil {
		return fmt.Errorf("%s: no auth, bank or consent state", path)
	}
	accs, _ := auth["accounts"].([]any)
	balances, _ := bank["balances"].([]any)
	patients, _ := consent["patients"].([]any)
	added := new(big.Int)
	for _, a := range accounts {
		accs = append(accs, map[string]any{
			"@type": "/cosmos.auth.v1beta1.BaseAccount", "address": a.Address, "pub_key": nil,
			"account_number": "0", "sequence": "0",
		})
		balances = append(balances, map[string]any{
			"address": a.Address, "coins": []any{map[string]any{"denom": denom, "amount": fmt.Sprint(a.Amount)}},
		})
		added.Add(added, big.NewInt(a.Amount))
		if a.PatientKey != nil {
			patients = append(patients, map[string]any{
				"address": a.Address, "encryption_key": base64.StdEncoding.EncodeToString(a.PatientKey),
				"delegates": []any{}, "registered_at": registeredAt.UTC().Format(time.RFC3339Nano),
			})
		}
	}
	auth["accounts"], bank["balances"], consent["patients"] = accs, balances, patients
	supply, _ := bank["supply"].([]any)
	found := false
	for _, s := range supply {
		coin, _ := s.(map[string]any)
		if coin["denom"] == denom {
			total, ok := new(big.Int).SetString(fmt.Sprint(coin["amount"]), 10)
			if !ok {
				return fmt.Errorf("%s: supply of %s is not a number", path, denom)
			}
			coin["amount"] = total.Add(total, added).String()
			found = true
		}
	}
	if !found {
		supply = append(supply, map[string]any{"denom": denom, "amount": added.String()})
	}
	bank["supply"] = supply
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}
