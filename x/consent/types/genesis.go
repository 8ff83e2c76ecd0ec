package types

import (
	"fmt"

	"cosmossdk.io/core/address"
	errorsmod "cosmossdk.io/errors"

	"github.com/healthd-chain/healthd/internal/addrs"
)

// DefaultGenesis returns the default genesis: default params, nothing else.
func DefaultGenesis() *GenesisState {
	return &GenesisState{
		Params: DefaultParams(), Patients: []PatientProfile{}, Consents: []Consent{}, NextConsentId: 1,
		Escrows: []KeyEscrow{}, Releases: []KeyRelease{},
	}
}

// Validate checks the genesis state: params; patient profiles (addresses, keys,
// delegates, no duplicates); consents (valid terms, known patient, ids unique
// and below next_consent_id).
func (gs GenesisState) Validate(ac address.Codec) error {
	if err := gs.Params.Validate(); err != nil {
		return err
	}
	patients := make(map[string]bool, len(gs.Patients))
	for _, p := range gs.Patients {
		if _, err := addrs.Decode(ac, p.Address); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "patient %q: %v", p.Address, err)
		}
		if patients[p.Address] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "patient %s listed twice", p.Address)
		}
		patients[p.Address] = true
		if err := ValidateEncryptionKey(p.EncryptionKey); err != nil {
			return errorsmod.Wrapf(err, "patient %s", p.Address)
		}
		if len(p.Delegates) > MaxDelegates {
			return errorsmod.Wrapf(ErrTooManyDelegates, "patient %s", p.Address)
		}
		seen := map[string]bool{}
		for _, d := range p.Delegates {
			if _, err := addrs.Decode(ac, d.Address); err != nil || d.Address == p.Address || seen[d.Address] || d.ExpiresAt.IsZero() {
				return errorsmod.Wrapf(ErrInvalidGenesis, "patient %s: delegate %q", p.Address, d.Address)
			}
			seen[d.Address] = true
		}
	}
	if gs.NextConsentId == 0 {
		return errorsmod.Wrap(ErrInvalidGenesis, "next_consent_id must be at least 1")
	}
	ids := make(map[uint64]bool, len(gs.Consents))
	for _, c := range gs.Consents {
		if ids[c.Id] || c.Id >= gs.NextConsentId {
			return errorsmod.Wrapf(ErrInvalidGenesis, "consent id %d duplicated or not below next_consent_id %d", c.Id, gs.NextConsentId)
		}
		ids[c.Id] = true
		if !patients[c.Patient] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "consent %d: patient %s is not registered", c.Id, c.Patient)
		}
		for _, a := range []string{c.Grantee, c.GrantedBy} {
			if _, err := addrs.Decode(ac, a); err != nil {
				return errorsmod.Wrapf(ErrInvalidGenesis, "consent %d: address %q", c.Id, a)
			}
		}
		if c.Grantee == c.Patient {
			return errorsmod.Wrapf(ErrInvalidGenesis, "consent %d: grantee is the patient", c.Id)
		}
		if err := c.Validate(); err != nil {
			return errorsmod.Wrapf(err, "consent %d", c.Id)
		}
	}
	epochs := make(map[[2]string]bool, len(gs.KeyEpochs))
	for _, e := range gs.KeyEpochs {
		if !patients[e.Patient] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "key epoch: patient %s is not registered", e.Patient)
		}
		if err := ValidateDataClass(e.DataClass); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "key epoch of %s: %v", e.Patient, err)
		}
		if e.Epoch < 2 {
			return errorsmod.Wrapf(ErrInvalidGenesis, "key epoch of %s %s is %d: only epochs above 1 are stored", e.Patient, e.DataClass, e.Epoch)
		}
		k := [2]string{e.Patient, e.DataClass}
		if epochs[k] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "key epoch of %s %s listed twice", e.Patient, e.DataClass)
		}
		epochs[k] = true
	}
	for _, c := range gs.Params.Custodians {
		if _, err := addrs.Decode(ac, c.Address); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "custodian %q: %v", c.Address, err)
		}
	}
	escrowed := map[string]bool{}
	for _, e := range gs.Escrows {
		if !patients[e.Patient] || escrowed[e.Patient] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "escrow of %s: patient not registered, or escrowed twice", e.Patient)
		}
		escrowed[e.Patient] = true
		if e.SetVersion > gs.Params.CustodianSetVersion {
			return errorsmod.Wrapf(ErrInvalidGenesis, "escrow of %s for custodian set %d, above the current %d", e.Patient, e.SetVersion, gs.Params.CustodianSetVersion)
		}
		m := MsgEscrowKeys{Classes: e.Classes, Shares: e.Shares, Commitments: e.Commitments}
		if err := m.Validate(); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "escrow of %s: %v", e.Patient, err)
		}
	}
	accesses := make(map[uint64]Consent, len(gs.Consents))
	for _, c := range gs.Consents {
		accesses[c.Id] = c
	}
	released := map[string]bool{}
	for _, r := range gs.Releases {
		k := fmt.Sprintf("%s/%d/%s", r.Patient, r.AccessId, r.Custodian)
		a, ok := accesses[r.AccessId]
		if !ok || !a.Emergency || a.Patient != r.Patient || a.Grantee != r.Provider || released[k] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "release %s: not an emergency access of that patient and provider, or listed twice", k)
		}
		released[k] = true
		if _, err := addrs.Decode(ac, r.Custodian); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "release %s: custodian: %v", k, err)
		}
		m := MsgReleaseKeyShares{AccessId: r.AccessId, Sealed: r.Sealed}
		if err := m.Validate(); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "release %s: %v", k, err)
		}
	}
	return nil
}
