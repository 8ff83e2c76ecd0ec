package cmd

import (
	"bytes"
	"context"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/app"
	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/vault"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// recordsCommands are the hand-written `healthd records` commands: the encrypted
// path (AutoCLI's `tx records create` is the raw commitment for integrations).
func recordsCommands() *cobra.Command {
	cmd := &cobra.Command{Use: "records", Short: "Encrypted records: put (encrypt, upload, commit) and get (receipt, download, decrypt)"}
	cmd.AddCommand(recordsPutCmd(), recordsGetCmd(), recordsKeyGrantsCmd(), recordsRevokeCmd())
	return cmd
}

func recordsKeyGrantsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key-grants [grantee]",
		Short: "Wrap your class keys to a grantee's public key, for `tx consent grant --key-grants`",
		Long: "Derives your (the patient's) current class key of each --classes and wraps it to the grantee's encryption " +
			"key as published on chain (provider registry or patient profile). Prints one `--key-grants=…` flag per " +
			"class, ready to splice into `tx consent grant` (the flag is repeated, not comma-separated), so the grantee " +
			"can read (and write) without you online. The grants are base64: no spaces or shell wildcards.",
		Example: "healthd tx consent grant health1…lab --classes lab-result,vital-signs --purposes TREAT --permissions read " +
			"--expires 720h $(healthd records key-grants health1…lab --classes lab-result,vital-signs --from alice) --from alice",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, err := client.GetClientQueryContext(cmd)
			if err != nil {
				return err
			}
			if from, _ := cmd.Flags().GetString(flags.FlagFrom); from != "" {
				clientCtx = clientCtx.WithFromName(from)
				rec, err := clientCtx.Keyring.Key(from)
				if err != nil {
					return fmt.Errorf("key %q: %w", from, err)
				}
				addr, err := rec.GetAddress()
				if err != nil {
					return err
				}
				clientCtx = clientCtx.WithFromAddress(addr)
			}
			me, priv, err := accountKey(clientCtx)
			if err != nil {
				return err
			}
			grantee := args[0]
			pub, err := publishedKey(cmd.Context(), clientCtx, grantee)
			if err != nil {
				return err
			}
			classes, _ := cmd.Flags().GetStringSlice("classes")
			var out []string
			for _, class := range classes {
				if err := consenttypes.ValidateDataClass(class); err != nil {
					return err
				}
				key, kctx, err := classKeyFor(cmd.Context(), clientCtx, me, me, priv, class, 0)
				if err != nil {
					return err
				}
				g, err := crypto.WrapClassKey(pub, key, kctx)
				if err != nil {
					return err
				}
				out = append(out, "--key-grants="+base64.StdEncoding.EncodeToString(g))
			}
			cmd.Println(strings.Join(out, " "))
			return nil
		},
	}
	cmd.Flags().StringSlice("classes", nil, "data classes to share, comma-separated")
	cmd.Flags().String(flags.FlagFrom, "", "the patient's key")
	_ = cmd.MarkFlagRequired("classes")
	flags.AddQueryFlagsToCmd(cmd)
	flags.AddKeyringFlags(cmd.Flags())
	return cmd
}

// publishedKey returns the encryption key an account published on chain: a
// provider's registry entry, else a patient's profile.
func publishedKey(ctx context.Context, clientCtx client.Context, addr string) ([]byte, error) {
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

func recordsPutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "put [file]",
		Short: "Encrypt a file on this machine, upload the ciphertext to a vault, and commit the record on chain",
		Long: "Encrypts FILE with a fresh data key (AES-256-GCM, streaming), uploads the ciphertext to the vault, wraps the " +
			"data key under the patient's class key and commits the record. A provider gets the class key from the " +
			"patient's write consent (its key grant); a patient derives its own. Prints the record id. Nothing readable " +
			"leaves this machine.",
		Example: "healthd records put result.json --patient health1… --class lab-result --purpose TREAT --fhir-type Observation --from hospital",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, err := client.GetClientTxContext(cmd)
			if err != nil {
				return err
			}
			me, priv, err := accountKey(clientCtx)
			if err != nil {
				return err
			}
			patient, _ := cmd.Flags().GetString("patient")
			if patient == "" {
				patient = me
			}
			class, _ := cmd.Flags().GetString("class")
			purpose, _ := cmd.Flags().GetString("purpose")
			fhirType, _ := cmd.Flags().GetString("fhir-type")
			vaultURL, _ := cmd.Flags().GetString("vault")
			if err := consenttypes.ValidateDataClass(class); err != nil {
				return err
			}
			classKey, kctx, err := classKeyFor(cmd.Context(), clientCtx, me, patient, priv, class, 0)
			if err != nil {
				return err
			}

			in, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			st, err := in.Stat()
			if err != nil {
				return err
			}
			u := uploader{cmd: cmd, clientCtx: clientCtx, me: me, vaultURL: vaultURL}
			entry, err := u.encryptAndUpload(in, st.Size(), class, fhirType, patient, classKey, kctx)
			if err != nil {
				return err
			}
			msg := &recordstypes.MsgCreateRecords{Author: me, Patient: patient, Purpose: purpose, Entries: []recordstypes.RecordEntry{entry}}
			var resp recordstypes.MsgCreateRecordsResponse
			if err := sendAndWait(cmd, clientCtx, msg, &resp); err != nil {
				return fmt.Errorf("uploaded, but the record was not committed (the vault deletes the upload after its TTL): %w", err)
			}
			return printJSON(cmd, map[string]any{"record_id": resp.Ids[0], "content_hash": hex.EncodeToString(entry.ContentHash), "size": entry.Size_})
		},
	}
	cmd.Flags().String("patient", "", "the patient (default: the signer)")
	cmd.Flags().String("class", "", "data class: "+strings.Join(consenttypes.DataClasses, ", "))
	cmd.Flags().String("purpose", "TREAT", "purpose of the write (HL7 ActReason)")
	cmd.Flags().String("fhir-type", "DocumentReference", "FHIR R4 resource type of the file")
	cmd.Flags().String("vault", "http://127.0.0.1:8800", "vault URL")
	_ = cmd.MarkFlagRequired("class")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

func recordsGetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get [record-id]",
		Short: "Read a record: access receipt on chain, download, verify the hash, decrypt to --out",
		Long: "Sends the access request (the chain checks the consent and records a receipt the patient can see), " +
			"downloads the ciphertext from the vault, checks it against the on-chain hash, gets the class key (a " +
			"patient derives it, a grantee opens its key grant) and decrypts to --out. --out is written only if " +
			"everything checks.",
		Example: "healthd records get 42 --purpose TREAT --out result.json --from lab",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, err := client.GetClientTxContext(cmd)
			if err != nil {
				return err
			}
			out, _ := cmd.Flags().GetString("out")
			if out == "" {
				return errors.New("--out FILE is required")
			}
			purpose, _ := cmd.Flags().GetString("purpose")
			me, priv, err := accountKey(clientCtx)
			if err != nil {
				return err
			}
			var id uint64
			if _, err := fmt.Sscan(args[0], &id); err != nil {
				return fmt.Errorf("record id %q: %w", args[0], err)
			}
			rq := recordstypes.NewQueryClient(clientCtx)
			rr, err := rq.Record(cmd.Context(), &recordstypes.QueryRecordRequest{Id: id})
			if err != nil {
				return fmt.Errorf("record %d: %w", id, err)
			}
			rec := rr.Record
			if rec.Status == recordstypes.RECORD_STATUS_ERASED {
				return fmt.Errorf("record %d was erased by the patient: its key and location are gone", id)
			}

			vaultURL, _ := cmd.Flags().GetString("vault")
			pt, err := os.CreateTemp(filepath.Dir(out), ".healthd-plain-*")
			if err != nil {
				return err
			}
			defer os.Remove(pt.Name())
			access, n, err := readRecord(cmd, clientCtx, me, priv, rec, purpose, vaultURL, pt)
			if cerr := pt.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Rename(pt.Name(), out); err != nil {
				return err
			}
			return printJSON(cmd, map[string]any{"record_id": id, "receipt_id": access.ReceiptId, "consent_id": access.ConsentId, "bytes": n, "out": out})
		},
	}
	cmd.Flags().String("purpose", "TREAT", "purpose of the read (HL7 ActReason), recorded in the receipt")
	cmd.Flags().String("out", "", "file to write the plaintext to (written only if everything checks)")
	cmd.Flags().String("vault", "", "vault URL (default: from the record's storage URI)")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// uploader encrypts and uploads record content for one account.
type uploader struct {
	cmd       *cobra.Command
	clientCtx client.Context
	me        string
	vaultURL  string
}

// encryptAndUpload encrypts size bytes from r with a fresh data key (to a
// temporary file, hashing the ciphertext), uploads the ciphertext, and returns
// the record entry to commit, its data key wrapped under classKey.
func (u uploader) encryptAndUpload(r io.Reader, size int64, class, fhirType, patient string, classKey []byte,
	kctx crypto.KeyContext,
) (recordstypes.RecordEntry, error) {
	var entry recordstypes.RecordEntry
	tmp, err := os.CreateTemp("", "healthd-put-*")
	if err != nil {
		return entry, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	dataKey, err := crypto.NewDataKey()
	if err != nil {
		return entry, err
	}
	hasher := sha256.New()
	w, err := crypto.NewRecordWriter(io.MultiWriter(tmp, hasher), dataKey,
		crypto.Header{DataClass: class, Patient: patient, FHIRResourceType: fhirType})
	if err != nil {
		return entry, err
	}
	if _, err := io.Copy(w, progress(u.cmd, "encrypting", r, size)); err != nil {
		return entry, err
	}
	if err := w.Close(); err != nil {
		return entry, err
	}
	var hash vault.Hash
	copy(hash[:], hasher.Sum(nil))
	ctSize, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return entry, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return entry, err
	}
	vc := &vault.Client{BaseURL: u.vaultURL, Keyring: u.clientCtx.Keyring, UID: u.clientCtx.FromName, Address: u.me}
	if err := vc.Put(u.cmd.Context(), hash, progress(u.cmd, "uploading", tmp, ctSize), ctSize); err != nil {
		return entry, err
	}
	envelope, err := crypto.WrapDataKey(classKey, dataKey, kctx, hash[:])
	if err != nil {
		return entry, err
	}
	vu, err := url.Parse(u.vaultURL)
	if err != nil {
		return entry, err
	}
	return recordstypes.RecordEntry{
		DataClass: class, FhirResourceType: fhirType, ContentHash: hash[:], Size_: uint64(ctSize),
		StorageUri: "vault://" + vu.Host + "/" + hash.String(), KeyEnvelope: envelope, KeyEpoch: kctx.Epoch,
	}, nil
}

// readRecord reads rec for me. It checks the consent and gets the class key
// first, so no receipt is taken for a read that would be refused or could not
// be decrypted; then records an access receipt (the chain checks the consent
// again), downloads, checks and decrypts into w. w must be discarded on error.
func readRecord(cmd *cobra.Command, clientCtx client.Context, me string, priv hpke.PrivateKey, rec recordstypes.Record,
	purpose, vaultURL string, w io.Writer,
) (recordstypes.MsgAccessRecordResponse, int64, error) {
	var access recordstypes.MsgAccessRecordResponse
	if err := mayRead(cmd.Context(), clientCtx, me, rec, purpose); err != nil {
		return access, 0, err
	}
	classKey, kctx, err := classKeyFor(cmd.Context(), clientCtx, me, rec.Patient, priv, rec.DataClass, rec.KeyEpoch)
	if err != nil {
		return access, 0, err
	}
	if err := sendAndWait(cmd, clientCtx, &recordstypes.MsgAccessRecord{Accessor: me, RecordId: rec.Id, Purpose: purpose}, &access); err != nil {
		return access, 0, fmt.Errorf("%w: %w", errAccessRefused, err)
	}
	n, err := decryptRecord(cmd, clientCtx, me, rec, vaultURL, classKey, kctx, w)
	return access, n, err
}

// errAccessRefused marks a read the patient's consents do not allow.
var errAccessRefused = errors.New("access refused")

// mayRead asks the chain (a query, no transaction) whether me may read rec for
// purpose now. The author of a record reads it without a consent; the
// transaction still checks that it is an active provider.
func mayRead(ctx context.Context, clientCtx client.Context, me string, rec recordstypes.Record, purpose string) error {
	if me == rec.Author {
		return nil
	}
	if err := mayAccess(ctx, clientCtx, me, rec.Patient, rec.DataClass, consenttypes.PermissionRead, purpose, rec.CreatedAt); err != nil {
		return fmt.Errorf("record %d: %w", rec.Id, err)
	}
	return nil
}

// mayAccess asks the chain (a query, no transaction) whether me's consents from
// patient allow permission on class for purpose, for a record authored at
// authoredAt (zero: now). A refusal wraps errAccessRefused and gives the reason.
func mayAccess(ctx context.Context, clientCtx client.Context, me, patient, class, permission, purpose string, authoredAt time.Time) error {
	d, err := consenttypes.NewQueryClient(clientCtx).CheckAccess(ctx, &consenttypes.QueryCheckAccessRequest{
		Patient: patient, Grantee: me, DataClass: class, Permission: permission, Purpose: purpose, AuthoredAt: authoredAt,
	})
	if err != nil {
		return err
	}
	if !d.Allowed {
		return fmt.Errorf("%w: %s may not %s %s of %s for %s: %s", errAccessRefused, me, permission, class, patient, purpose, d.Reason)
	}
	return nil
}

// decryptRecord downloads rec's ciphertext (from vaultURL, or the vault of its
// storage URI), checks it against the on-chain hash and header, and decrypts it
// into w with the class key. The vault serves it only to an account holding a
// fresh access receipt for it. w must be discarded on error.
func decryptRecord(cmd *cobra.Command, clientCtx client.Context, me string, rec recordstypes.Record, vaultURL string,
	classKey []byte, kctx crypto.KeyContext, w io.Writer,
) (int64, error) {
	var err error
	if vaultURL == "" {
		if vaultURL, err = vaultFromURI(rec.StorageUri); err != nil {
			return 0, err
		}
	}
	ct, err := os.CreateTemp("", ".healthd-get-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(ct.Name())
	defer ct.Close()
	var hash vault.Hash
	copy(hash[:], rec.ContentHash)
	vc := &vault.Client{BaseURL: vaultURL, Keyring: clientCtx.Keyring, UID: clientCtx.FromName, Address: me}
	if _, err := vc.Get(cmd.Context(), hash, ct, int64(rec.Size_)); err != nil {
		return 0, err
	}
	dataKey, err := crypto.UnwrapDataKey(classKey, rec.KeyEnvelope, kctx, rec.ContentHash)
	if err != nil {
		return 0, err
	}
	if _, err := ct.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	hdr, plain, err := crypto.NewRecordReader(ct, dataKey)
	if err != nil {
		return 0, err
	}
	if hdr.Patient != rec.Patient || hdr.DataClass != rec.DataClass {
		return 0, errors.New("the ciphertext's header does not match the on-chain record")
	}
	return io.Copy(w, progress(cmd, "decrypting", plain, int64(rec.Size_)))
}

// accountKey returns the --from account's address and derived encryption key.
func accountKey(clientCtx client.Context) (string, hpke.PrivateKey, error) {
	if clientCtx.FromName == "" {
		return "", nil, errors.New("--from is required")
	}
	me, err := addresscodec.NewBech32Codec(app.Bech32Prefix).BytesToString(clientCtx.GetFromAddress())
	if err != nil {
		return "", nil, err
	}
	priv, err := crypto.EncryptionKeyFromKeyring(clientCtx.Keyring, clientCtx.FromName, me)
	return me, priv, err
}

// classKeyFor returns the class key of (patient, class, epoch) for the account
// me; epoch 0 means the patient's current epoch (the one new records must use).
// The patient derives it; a grantee opens the newest key grant it holds for the
// class from the patient's consents and, by key regression, derives the
// requested (earlier or equal) epoch from it.
func classKeyFor(ctx context.Context, clientCtx client.Context, me, patient string, priv hpke.PrivateKey,
	class string, epoch uint64,
) ([]byte, crypto.KeyContext, error) {
	if epoch == 0 {
		epochs, err := currentEpochs(ctx, clientCtx, patient)
		if err != nil {
			return nil, crypto.KeyContext{}, err
		}
		epoch = epochs[class]
	}
	kctx := crypto.KeyContext{Patient: patient, DataClass: class, Epoch: epoch}
	if me == patient {
		key, err := crypto.PatientClassKey(priv, kctx)
		return key, kctx, err
	}
	cq := consenttypes.NewQueryClient(clientCtx)
	best := uint64(0)
	var bestGrant []byte
	var next []byte
	for {
		resp, err := cq.ConsentsByGrantee(ctx, &consenttypes.QueryConsentsByGranteeRequest{Grantee: me, Pagination: &query.PageRequest{Key: next}})
		if err != nil {
			return nil, crypto.KeyContext{}, err
		}
		for _, c := range resp.Consents {
			if c.Patient != patient {
				continue
			}
			for _, g := range c.KeyGrants {
				if gc, ge, ok := crypto.GrantLabel(g); ok && gc == class && ge > best {
					best, bestGrant = ge, g
				}
			}
		}
		if resp.Pagination == nil || len(resp.Pagination.NextKey) == 0 {
			break
		}
		next = resp.Pagination.NextKey
	}
	if bestGrant == nil {
		return nil, crypto.KeyContext{}, fmt.Errorf("no key grant for %s from patient %s: the patient's consent to you carries none "+
			"(ask the patient to grant again with the key)", class, patient)
	}
	if best < epoch {
		return nil, crypto.KeyContext{}, fmt.Errorf("your key grant for %s from patient %s is for epoch %d, but epoch %d is needed "+
			"(the patient revoked a consent and rotated the key): ask the patient for a new key grant", class, patient, best, epoch)
	}
	key, gctx, err := crypto.UnwrapClassKey(priv, bestGrant, patient)
	if err != nil {
		// The usual cause: the key published on chain is not the one this
		// keyring derives (registered from another key, or rotated since).
		if pub, perr := publishedKey(ctx, clientCtx, me); perr == nil && !bytes.Equal(pub, priv.PublicKey().Bytes()) {
			return nil, crypto.KeyContext{}, fmt.Errorf("your key grant from %s does not open: the encryption key published "+
				"on chain for %s is not the one this keyring derives (`healthd keys encryption-key`); grants are made to the "+
				"published key: %w", patient, me, err)
		}
		return nil, crypto.KeyContext{}, err
	}
	key, err = crypto.RegressClassKey(key, gctx.Epoch, epoch)
	return key, kctx, err
}

// currentEpochs returns the patient's current class-key epoch of every data
// class (1 unless a revocation rotated it).
func currentEpochs(ctx context.Context, clientCtx client.Context, patient string) (map[string]uint64, error) {
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

// vaultFromURI turns vault://host[:port]/hash into the vault's URL: http on a
// loopback host, https elsewhere.
func vaultFromURI(uri string) (string, error) {
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

// progress reports, on stderr, every tenth of a long transfer.
func progress(cmd *cobra.Command, what string, r io.Reader, total int64) io.Reader {
	if total < 8<<20 {
		return r
	}
	return &progressReader{r: r, total: total, report: func(done int64) {
		cmd.PrintErrf("%s: %d%% (%d of %d MiB)\n", what, done*100/total, done>>20, total>>20)
	}}
}

type progressReader struct {
	r           io.Reader
	total, done int64
	next        int64
	report      func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.done >= p.next {
		p.report(p.done)
		p.next = p.done + p.total/10
	}
	return n, err
}

func printJSON(cmd *cobra.Command, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	cmd.Println(string(b))
	return nil
}
