package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
)

// Patients is the hospital-local table from the EHR's patient ids (MRNs) to
// patients' chain addresses. It lives in one JSON file on the FHIR server's
// machine, never on chain: an MRN names a person. `healthd fhir patients`
// manages it; the server reads the file again whenever it changes, so an
// entry added while it runs is seen at once.
type Patients struct {
	path string

	mu     sync.Mutex
	read   os.FileInfo // the file as last read
	byMRN  map[string]string
	byAddr map[string]string
}

// patientsFile is the file's shape.
type patientsFile struct {
	Patients map[string]string `json:"patients"` // MRN → address
}

// mrnRE: an MRN is used as a FHIR id, so it must be one (R4 id: 1-64 of
// A-Z a-z 0-9 - .).
var mrnRE = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// ValidMRN reports whether mrn can be a patient's FHIR id.
func ValidMRN(mrn string) bool { return mrnRE.MatchString(mrn) }

// OpenPatients opens the table in path (a missing file is an empty table).
func OpenPatients(path string) (*Patients, error) {
	p := &Patients{path: path}
	if err := p.reload(); err != nil {
		return nil, err
	}
	return p, nil
}

// Path is the table's file.
func (p *Patients) Path() string { return p.path }

// reload reads the file if it changed since the last read.
func (p *Patients) reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := os.Stat(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		p.byMRN, p.byAddr = map[string]string{}, map[string]string{}
		return nil
	}
	if err != nil {
		return err
	}
	// every write replaces the file (a rename), so a new file is a change
	// even where mtimes are coarse
	if p.byMRN != nil && p.read != nil && os.SameFile(p.read, st) && st.ModTime().Equal(p.read.ModTime()) && st.Size() == p.read.Size() {
		return nil
	}
	raw, err := os.ReadFile(p.path)
	if err != nil {
		return err
	}
	var f patientsFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("%s: %w", p.path, err)
	}
	byMRN, byAddr := map[string]string{}, map[string]string{}
	for mrn, addr := range f.Patients {
		if !ValidMRN(mrn) {
			return fmt.Errorf("%s: %q is not a valid MRN (1-64 of A-Z a-z 0-9 - .)", p.path, mrn)
		}
		byMRN[mrn] = addr
		byAddr[addr] = mrn
	}
	p.byMRN, p.byAddr, p.read = byMRN, byAddr, st
	return nil
}

// Address returns the chain address of mrn.
func (p *Patients) Address(mrn string) (string, bool, error) {
	if err := p.reload(); err != nil {
		return "", false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.byMRN[mrn]
	return a, ok, nil
}

// MRN returns the MRN of a chain address. If the file cannot be read again,
// the table as last read answers (a served resource would otherwise name the
// patient by her account).
func (p *Patients) MRN(addr string) (string, bool) {
	_ = p.reload()
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.byAddr[addr]
	return m, ok
}

// List returns the table, by MRN.
func (p *Patients) List() ([][2]string, error) {
	if err := p.reload(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([][2]string, 0, len(p.byMRN))
	for m, a := range p.byMRN {
		out = append(out, [2]string{m, a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// Set maps mrn to addr (replacing an earlier mapping of either) and writes
// the file atomically, readable by its owner only.
func (p *Patients) Set(mrn, addr string) error {
	if !ValidMRN(mrn) {
		return fmt.Errorf("%q is not a valid MRN: it becomes the patient's FHIR id, so 1-64 of A-Z a-z 0-9 - .", mrn)
	}
	return p.update(func(m map[string]string) {
		for k, v := range m {
			if v == addr {
				delete(m, k)
			}
		}
		m[mrn] = addr
	})
}

// Remove forgets mrn.
func (p *Patients) Remove(mrn string) error {
	if _, ok, err := p.Address(mrn); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("no patient with MRN %q in %s", mrn, p.path)
		}
		return err
	}
	return p.update(func(m map[string]string) { delete(m, mrn) })
}

func (p *Patients) update(change func(map[string]string)) error {
	if err := p.reload(); err != nil {
		return err
	}
	p.mu.Lock()
	m := make(map[string]string, len(p.byMRN))
	for k, v := range p.byMRN {
		m[k] = v
	}
	p.mu.Unlock()
	change(m)
	raw, err := json.MarshalIndent(patientsFile{Patients: m}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p.path), ".patients-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), p.path); err != nil {
		return err
	}
	p.mu.Lock()
	p.byMRN = nil // force a reload
	p.mu.Unlock()
	return p.reload()
}
