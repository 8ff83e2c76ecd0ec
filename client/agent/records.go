package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/client/paging"
	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/vault"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// ErrAccessRefused marks a read or write the patient's consents do not allow.
var ErrAccessRefused = errors.New("access refused")

// AccessDenied is a refusal by the chain's consent check, with its reason. It
// wraps ErrAccessRefused.
type AccessDenied struct {
	Reason consenttypes.AccessReason
	msg    string
}

func (e *AccessDenied) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrAccessRefused) hold.
func (e *AccessDenied) Unwrap() error { return ErrAccessRefused }

// ErrErased marks a record the patient erased: its key and location are gone.
var ErrErased = errors.New("erased")

// PutRequest describes one record to file.
type PutRequest struct {
	Patient  string // default: the agent's own account
	Class    string // data class
	Purpose  string // HL7 ActReason of the write
	FHIRType string // FHIR R4 resource type of the content
	VaultURL string
}

// PutResult is a committed record.
type PutResult struct {
	ID          uint64
	ContentHash []byte
	Size        uint64 // of the ciphertext
}

// Put encrypts size bytes of r, uploads the ciphertext and commits the record.
// A provider needs the patient's write consent carrying a key grant for the
// class; a patient writes its own.
func (a *Agent) Put(ctx context.Context, r io.Reader, size int64, req PutRequest) (PutResult, error) {
	if req.Patient == "" {
		req.Patient = a.addr
	}
	if err := consenttypes.ValidateDataClass(req.Class); err != nil {
		return PutResult{}, err
	}
	if req.Patient != a.addr {
		if err := a.MayAccess(ctx, req.Patient, req.Class, consenttypes.PermissionWrite, req.Purpose, time.Time{}); err != nil {
			return PutResult{}, err
		}
	}
	classKey, kctx, err := a.ClassKey(ctx, req.Patient, req.Class, 0)
	if err != nil {
		return PutResult{}, err
	}
	entry, err := a.Upload(ctx, r, size, req.Class, req.FHIRType, req.Patient, req.VaultURL, classKey, kctx)
	if err != nil {
		return PutResult{}, err
	}
	msg := &recordstypes.MsgCreateRecords{Author: a.addr, Patient: req.Patient, Purpose: req.Purpose, Entries: []recordstypes.RecordEntry{entry}}
	var resp recordstypes.MsgCreateRecordsResponse
	if err := a.SendOne(ctx, msg, &resp); err != nil {
		return PutResult{}, fmt.Errorf("uploaded, but the record was not committed (the vault deletes the upload after its TTL): %w", err)
	}
	return PutResult{ID: resp.Ids[0], ContentHash: entry.ContentHash, Size: entry.Size_}, nil
}

// Upload encrypts size bytes from r with a fresh data key (to a temporary
// file, hashing the ciphertext), uploads the ciphertext to vaultURL, and
// returns the record entry to commit, its data key wrapped under classKey.
func (a *Agent) Upload(ctx context.Context, r io.Reader, size int64, class, fhirType, patient, vaultURL string,
	classKey []byte, kctx crypto.KeyContext,
) (recordstypes.RecordEntry, error) {
	host, err := vaultHost(vaultURL)
	if err != nil {
		return recordstypes.RecordEntry{}, err
	}
	tmp, err := os.CreateTemp("", "healthd-put-*")
	if err != nil {
		return recordstypes.RecordEntry{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	hash, dataKey, err := encrypt(tmp, a.progress("encrypting", r, size), crypto.Header{DataClass: class, Patient: patient, FHIRResourceType: fhirType})
	if err != nil {
		return recordstypes.RecordEntry{}, err
	}
	ctSize, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return recordstypes.RecordEntry{}, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return recordstypes.RecordEntry{}, err
	}
	if err := a.vaultClient(vaultURL).Put(ctx, hash, a.progress("uploading", tmp, ctSize), ctSize); err != nil {
		return recordstypes.RecordEntry{}, err
	}
	return recordEntry(host, hash, ctSize, dataKey, class, fhirType, classKey, kctx)
}

// encrypt encrypts src under a fresh data key into dst and returns the
// ciphertext's hash and the data key.
func encrypt(dst io.Writer, src io.Reader, hdr crypto.Header) (vault.Hash, []byte, error) {
	dataKey, err := crypto.NewDataKey()
	if err != nil {
		return vault.Hash{}, nil, err
	}
	hash, err := encryptWith(dst, src, hdr, dataKey, nil)
	return hash, dataKey, err
}

// encryptWith encrypts src under dataKey into dst and returns the
// ciphertext's hash; salt is a random one if nil (see crypto.SourceKeys for
// the only other kind).
func encryptWith(dst io.Writer, src io.Reader, hdr crypto.Header, dataKey, salt []byte) (vault.Hash, error) {
	var hash vault.Hash
	hasher := sha256.New()
	var w io.WriteCloser
	var err error
	if salt == nil {
		w, err = crypto.NewRecordWriter(io.MultiWriter(dst, hasher), dataKey, hdr)
	} else {
		w, err = crypto.NewRecordWriterWithSalt(io.MultiWriter(dst, hasher), dataKey, salt, hdr)
	}
	if err != nil {
		return hash, err
	}
	if _, err := io.Copy(w, src); err != nil {
		return hash, err
	}
	if err := w.Close(); err != nil {
		return hash, err
	}
	copy(hash[:], hasher.Sum(nil))
	return hash, nil
}

// recordEntry is the entry that commits an uploaded ciphertext, its data key
// wrapped under the class key.
func recordEntry(host string, hash vault.Hash, size int64, dataKey []byte, class, fhirType string, classKey []byte, kctx crypto.KeyContext,
) (recordstypes.RecordEntry, error) {
	envelope, err := crypto.WrapDataKey(classKey, dataKey, kctx, hash[:])
	if err != nil {
		return recordstypes.RecordEntry{}, err
	}
	return recordstypes.RecordEntry{
		DataClass: class, FhirResourceType: fhirType, ContentHash: hash[:], Size_: uint64(size),
		StorageUri: "vault://" + host + "/" + hash.String(), KeyEnvelope: envelope, KeyEpoch: kctx.Epoch,
	}, nil
}

// vaultHost is the host[:port] of an http(s) vault URL.
func vaultHost(vaultURL string) (string, error) {
	vu, err := url.Parse(vaultURL)
	if err != nil || vu.Host == "" {
		return "", fmt.Errorf("vault URL %q is not an http(s) URL", vaultURL)
	}
	return vu.Host, nil
}

// vaultClient is the agent's signed client of the vault at vaultURL.
func (a *Agent) vaultClient(vaultURL string) *vault.Client {
	return &vault.Client{BaseURL: vaultURL, Keyring: a.clientCtx.Keyring, UID: a.clientCtx.FromName, Address: a.addr}
}

// Erase erases record id and every version of it (its amendment chain), in
// as many transactions as the chain's per-transaction bound needs, and returns
// the ids of the versions erased. The vaults delete the blobs at their next
// sweep; a copy someone already downloaded cannot be recalled.
func (a *Agent) Erase(ctx context.Context, id uint64) ([]uint64, error) {
	var erased []uint64
	for {
		var resp recordstypes.MsgEraseRecordResponse
		if err := a.SendOne(ctx, &recordstypes.MsgEraseRecord{Signer: a.addr, RecordId: id}, &resp); err != nil {
			if len(erased) > 0 {
				return erased, fmt.Errorf("erased versions %v, then: %w", erased, err)
			}
			return nil, err
		}
		erased = append(erased, resp.ErasedIds...)
		if !resp.More {
			return erased, nil
		}
	}
}

// Record fetches record id; an erased record is an error wrapping ErrErased.
func (a *Agent) Record(ctx context.Context, id uint64) (recordstypes.Record, error) {
	rr, err := recordstypes.NewQueryClient(a.clientCtx).Record(ctx, &recordstypes.QueryRecordRequest{Id: id})
	if err != nil {
		return recordstypes.Record{}, fmt.Errorf("record %d: %w", id, err)
	}
	if rr.Record.Status == recordstypes.RECORD_STATUS_ERASED {
		return rr.Record, fmt.Errorf("record %d was %w by the patient: its key and location are gone", id, ErrErased)
	}
	return rr.Record, nil
}

// Read reads rec. It checks the consent and gets the class key first, so no
// receipt is taken for a read that would be refused or could not be
// decrypted; then records an access receipt (the chain checks the consent
// again), downloads, checks and decrypts into w. The record's patient takes
// no receipt (ReceiptId 0): reading her own record discloses nothing, and
// the vault serves it to her on the chain's word that she is its patient.
// w must be discarded on error.
func (a *Agent) Read(ctx context.Context, rec recordstypes.Record, purpose, vaultURL string, w io.Writer,
) (recordstypes.MsgAccessRecordResponse, int64, error) {
	var access recordstypes.MsgAccessRecordResponse
	d, err := a.readDecision(ctx, rec, purpose)
	if err != nil {
		return access, 0, err
	}
	classKey, kctx, err := a.ClassKey(ctx, rec.Patient, rec.DataClass, rec.KeyEpoch)
	if err != nil {
		return access, 0, err
	}
	if vaultURL, err = a.vaultFor(ctx, rec, vaultURL); err != nil {
		return access, 0, err
	}
	if d.Reason == consenttypes.ACCESS_REASON_PATIENT {
		n, err := a.Decrypt(ctx, rec, 0, vaultURL, classKey, kctx, w)
		return access, n, err
	}
	if err := a.SendOne(ctx, &recordstypes.MsgAccessRecord{Accessor: a.addr, RecordId: rec.Id, Purpose: purpose}, &access); err != nil {
		return access, 0, fmt.Errorf("%w: %w", ErrAccessRefused, err)
	}
	n, err := a.Decrypt(ctx, rec, access.ReceiptId, vaultURL, classKey, kctx, w)
	return access, n, err
}

// MayRead asks the chain (a query, no transaction) whether the agent may read
// rec for purpose now. The chain's rule covers the author's own records too.
func (a *Agent) MayRead(ctx context.Context, rec recordstypes.Record, purpose string) error {
	_, err := a.readDecision(ctx, rec, purpose)
	return err
}

// readDecision is MayRead with the chain's decision when it allows.
func (a *Agent) readDecision(ctx context.Context, rec recordstypes.Record, purpose string) (*consenttypes.QueryCheckAccessResponse, error) {
	d, err := a.checkAccess(ctx, &consenttypes.QueryCheckAccessRequest{
		Patient: rec.Patient, Grantee: a.addr, DataClass: rec.DataClass, Permission: consenttypes.PermissionRead,
		Purpose: purpose, AuthoredAt: rec.CreatedAt, Author: rec.Author,
	})
	if err != nil {
		return nil, fmt.Errorf("record %d: %w", rec.Id, err)
	}
	return d, nil
}

// MayAccess asks the chain (a query, no transaction) whether the agent's
// consents from patient allow permission on class for purpose, for a record
// authored at authoredAt (zero: now). A refusal wraps ErrAccessRefused and
// gives the reason.
func (a *Agent) MayAccess(ctx context.Context, patient, class, permission, purpose string, authoredAt time.Time) error {
	_, err := a.checkAccess(ctx, &consenttypes.QueryCheckAccessRequest{
		Patient: patient, Grantee: a.addr, DataClass: class, Permission: permission, Purpose: purpose, AuthoredAt: authoredAt,
	})
	return err
}

// checkAccess asks the chain's access rule; a refusal is an *AccessDenied.
func (a *Agent) checkAccess(ctx context.Context, req *consenttypes.QueryCheckAccessRequest) (*consenttypes.QueryCheckAccessResponse, error) {
	d, err := consenttypes.NewQueryClient(a.clientCtx).CheckAccess(ctx, req)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return nil, a.denied(req.Patient, req.DataClass, req.Permission, req.Purpose, d.Reason)
	}
	return d, nil
}

// denied is the chain's refusal of permission on class of patient for
// purpose to the agent.
func (a *Agent) denied(patient, class, permission, purpose string, reason consenttypes.AccessReason) *AccessDenied {
	return &AccessDenied{Reason: reason, msg: fmt.Sprintf("%s: %s may not %s %s of %s for %s: %s",
		ErrAccessRefused, a.addr, permission, class, patient, purpose, reason)}
}

// Decrypt downloads rec's ciphertext (from vaultURL, or the vault of its
// storage URI), checks it against the on-chain hash and header, and decrypts
// it into w with the class key. The vault serves it only to an account
// holding a fresh access receipt for it: receipt names it (the vault then
// checks that one receipt); 0 lets the vault look for one. w must be
// discarded on error.
func (a *Agent) Decrypt(ctx context.Context, rec recordstypes.Record, receipt uint64, vaultURL string, classKey []byte,
	kctx crypto.KeyContext, w io.Writer,
) (int64, error) {
	vaultURL, err := a.vaultFor(ctx, rec, vaultURL)
	if err != nil {
		return 0, err
	}
	ct, err := os.CreateTemp("", ".healthd-get-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(ct.Name())
	defer ct.Close()
	var hash vault.Hash
	copy(hash[:], rec.ContentHash)
	vc := a.vaultClient(vaultURL)
	if receipt != 0 {
		_, err = vc.GetByReceipt(ctx, receipt, hash, ct, int64(rec.Size_))
	} else {
		_, err = vc.Get(ctx, hash, ct, int64(rec.Size_))
	}
	if err != nil {
		return 0, err
	}
	if _, err := ct.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	plain, err := openRecord(rec, ct, classKey, kctx)
	if err != nil {
		return 0, err
	}
	return io.Copy(w, a.progress("decrypting", plain, int64(rec.Size_)))
}

// openRecord returns the plaintext reader of rec's ciphertext (already
// checked against its hash), checking that its header is the on-chain
// record's.
func openRecord(rec recordstypes.Record, ct io.Reader, classKey []byte, kctx crypto.KeyContext) (io.Reader, error) {
	dataKey, err := crypto.UnwrapDataKey(classKey, rec.KeyEnvelope, kctx, rec.ContentHash)
	if err != nil {
		return nil, err
	}
	hdr, plain, err := crypto.NewRecordReader(ct, dataKey)
	if err != nil {
		return nil, err
	}
	if hdr.Patient != rec.Patient || hdr.DataClass != rec.DataClass {
		return nil, errors.New("the ciphertext's header does not match the on-chain record")
	}
	return plain, nil
}

// ClassKey returns the class key of (patient, class, epoch) for the agent;
// epoch 0 means the patient's current epoch (the one new records must use).
// The patient derives it; a grantee opens the newest key grant it holds for
// the class and, by key regression, derives the requested (earlier or equal)
// epoch from it.
//
// A grantee takes a grant only from a consent of that patient that is active
// now and that the patient signed (the chain refuses key grants from anyone
// else; the client checks it too), and only for an epoch no later than the
// patient's current one: to write, the grant must be for the current epoch
// itself, so nobody but the patient chooses the key new records are sealed
// under.
func (a *Agent) ClassKey(ctx context.Context, patient, class string, epoch uint64) ([]byte, crypto.KeyContext, error) {
	if a.addr == patient && epoch != 0 { // the patient derives any epoch of her own: no need to ask the chain
		kctx := crypto.KeyContext{Patient: patient, DataClass: class, Epoch: epoch}
		key, err := crypto.PatientClassKey(a.priv, kctx)
		return key, kctx, err
	}
	epochs, err := CurrentEpochs(ctx, a.clientCtx, patient)
	if err != nil {
		return nil, crypto.KeyContext{}, err
	}
	current := epochs[class]
	writing := epoch == 0
	if writing {
		epoch = current
	}
	if epoch > current {
		return nil, crypto.KeyContext{}, fmt.Errorf("%s epoch %d of patient %s is past the current epoch %d", class, epoch, patient, current)
	}
	kctx := crypto.KeyContext{Patient: patient, DataClass: class, Epoch: epoch}
	if a.addr == patient {
		key, err := crypto.PatientClassKey(a.priv, kctx)
		return key, kctx, err
	}
	best, bestGrant, err := a.newestGrant(ctx, patient, class, current)
	if err != nil {
		return nil, crypto.KeyContext{}, err
	}
	if !writing && (bestGrant == nil || best < epoch) {
		// No key grant opens it: under a live emergency access of the
		// agent's, the custodians' released shares may (issue #17).
		key, eerr := a.emergencyClassKey(ctx, patient, class, epoch)
		if eerr == nil {
			return key, kctx, nil
		}
		var werr *WaitingError
		if errors.As(eerr, &werr) || bestGrant == nil && a.hasLiveEmergency(ctx, patient) {
			return nil, crypto.KeyContext{}, eerr
		}
	}
	if bestGrant == nil {
		return nil, crypto.KeyContext{}, fmt.Errorf("no key grant for %s from patient %s: no active consent the patient signed "+
			"carries one (ask the patient to grant again with the key)", class, patient)
	}
	if best < epoch || writing && best != current {
		return nil, crypto.KeyContext{}, fmt.Errorf("your key grant for %s from patient %s is for epoch %d, but epoch %d is needed "+
			"(the patient revoked a consent and rotated the key): ask the patient for a new key grant", class, patient, best, epoch)
	}
	key, gctx, err := crypto.UnwrapClassKey(a.priv, bestGrant, patient)
	if err != nil {
		// The usual cause: the key published on chain is not the one this
		// keyring derives (registered from another key, or rotated since).
		if pub, perr := PublishedKey(ctx, a.clientCtx, a.addr); perr == nil && !bytes.Equal(pub, a.EncryptionKey()) {
			return nil, crypto.KeyContext{}, fmt.Errorf("your key grant from %s does not open: the encryption key published "+
				"on chain for %s is not the one this keyring derives (`healthd keys encryption-key`); grants are made to the "+
				"published key: %w", patient, a.addr, err)
		}
		return nil, crypto.KeyContext{}, err
	}
	key, err = crypto.RegressClassKey(key, gctx.Epoch, epoch)
	return key, kctx, err
}

// newestGrant returns the agent's key grant for class with the highest epoch
// not past current, from the consents patient gave the agent (one query on
// the chain's (patient, grantee) index) that are active and that the patient
// signed.
func (a *Agent) newestGrant(ctx context.Context, patient, class string, current uint64) (uint64, []byte, error) {
	cq := consenttypes.NewQueryClient(a.clientCtx)
	best := uint64(0)
	var bestGrant []byte
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := cq.ConsentsByPair(ctx, &consenttypes.QueryConsentsByPairRequest{
			Patient: patient, Grantee: a.addr, Pagination: &query.PageRequest{Key: key},
		})
		if err != nil {
			return nil, false, err
		}
		for _, c := range resp.Consents {
			if e, g := usableGrant(c, patient, class, current); e > best {
				best, bestGrant = e, g
			}
		}
		return resp.Pagination, false, nil
	})
	return best, bestGrant, err
}

// usableGrant returns the highest-epoch grant for class in c, if c is an
// active consent of patient that the patient signed, at an epoch not past
// current; 0 if none. The chain shows a consent whose period ended as expired.
func usableGrant(c consenttypes.Consent, patient, class string, current uint64) (uint64, []byte) {
	if c.Patient != patient || c.GrantedBy != patient || c.Status != consenttypes.CONSENT_STATUS_ACTIVE {
		return 0, nil
	}
	best := uint64(0)
	var bestGrant []byte
	for _, g := range c.KeyGrants {
		if gc, ge, ok := crypto.GrantLabel(g); ok && gc == class && ge <= current && ge > best {
			best, bestGrant = ge, g
		}
	}
	return best, bestGrant
}

// CurrentEpochs returns the patient's current class-key epoch of every data
// class (1 unless a revocation rotated it).
func CurrentEpochs(ctx context.Context, clientCtx client.Context, patient string) (map[string]uint64, error) {
	resp, err := consenttypes.NewQueryClient(clientCtx).KeyEpochs(ctx, &consenttypes.QueryKeyEpochsRequest{Patient: patient})
	if err != nil {
		return nil, fmt.Errorf("the class-key epochs of %s: %w", patient, err)
	}
	epochs := make(map[string]uint64, len(consenttypes.DataClasses))
	for _, c := range consenttypes.DataClasses {
		epochs[c] = 1
	}
	for _, e := range resp.Epochs {
		epochs[e.DataClass] = e.Epoch
	}
	return epochs, nil
}

// PublishedKey returns the encryption key an account published on chain: a
// provider's registry entry, else a patient's profile.
func PublishedKey(ctx context.Context, clientCtx client.Context, addr string) ([]byte, error) {
	pr, err := providerstypes.NewQueryClient(clientCtx).Provider(ctx, &providerstypes.QueryProviderRequest{Address: addr})
	if err == nil {
		return pr.Provider.EncryptionKey, nil
	}
	pt, perr := consenttypes.NewQueryClient(clientCtx).Patient(ctx, &consenttypes.QueryPatientRequest{Address: addr})
	if perr != nil {
		return nil, fmt.Errorf("%s has published no encryption key (neither a provider nor a registered patient)", addr)
	}
	return pt.Patient.EncryptionKey, nil
}

// ErrUnregisteredVault marks a record whose storage URI names a host that no
// provider registered as its vault endpoint on chain.
var ErrUnregisteredVault = errors.New("vault host not registered on chain")

// vaultFor returns the vault to fetch rec from: vaultURL if the user chose
// one, else the vault of the record's storage URI, if its host is one that a
// provider registered on chain as its vault endpoint. The URI is the author's
// choice: without this check a record could send its reader's signed requests
// to any host, loopback services included.
func (a *Agent) vaultFor(ctx context.Context, rec recordstypes.Record, vaultURL string) (string, error) {
	if vaultURL != "" {
		return vaultURL, nil
	}
	u, err := VaultFromURI(rec.StorageUri)
	if err != nil {
		return "", err
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	hosts, err := a.registeredVaultHosts(ctx)
	if err != nil {
		return "", err
	}
	if !hosts[strings.ToLower(parsed.Hostname())] {
		return "", fmt.Errorf("record %d is stored at %s: %w (no provider lists it as its vault endpoint); "+
			"pass --vault to choose the vault yourself", rec.Id, parsed.Host, ErrUnregisteredVault)
	}
	return u, nil
}

// registeredVaultHosts returns the host names of every provider's registered
// vault endpoint (read once per agent: a consortium has few providers).
func (a *Agent) registeredVaultHosts(ctx context.Context) (map[string]bool, error) {
	a.vaultHostsMu.Lock()
	defer a.vaultHostsMu.Unlock()
	if a.vaultHosts != nil {
		return a.vaultHosts, nil
	}
	hosts := map[string]bool{}
	pq := providerstypes.NewQueryClient(a.clientCtx)
	err := paging.Each(func(key []byte) (*query.PageResponse, bool, error) {
		resp, err := pq.Providers(ctx, &providerstypes.QueryProvidersRequest{Pagination: &query.PageRequest{Key: key}})
		if err != nil {
			return nil, false, err
		}
		for _, p := range resp.Providers {
			if u, err := url.Parse(p.Provider.VaultEndpoint); err == nil && u.Hostname() != "" {
				hosts[strings.ToLower(u.Hostname())] = true
			}
		}
		return resp.Pagination, false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the registered vault endpoints: %w", err)
	}
	a.vaultHosts = hosts
	return hosts, nil
}

// VaultFromURI turns vault://host[:port]/hash into the vault's URL: http on a
// loopback host, https elsewhere.
func VaultFromURI(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "vault" || u.Host == "" {
		return "", fmt.Errorf("storage URI %q is not a vault:// URI: give --vault", uri)
	}
	scheme := "https"
	if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() {
		scheme = "http"
	}
	return scheme + "://" + u.Host, nil
}
