package cmd

import (
	"context"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

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
	cmd.AddCommand(recordsPutCmd(), recordsGetCmd(), recordsKeyGrantsCmd())
	return cmd
}

func recordsKeyGrantsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key-grants [grantee]",
		Short: "Wrap your class keys to a grantee's public key, for `tx consent grant --key-grants`",
		Long: "Derives your (the patient's) current class key of each --classes and wraps it to the grantee's encryption " +
			"key as published on chain (provider registry or patient profile). Prints the grants, comma-separated, as " +
			"`tx consent grant --key-grants` takes them, so the grantee can read (and write) without you online.",
		Example: "healthd tx consent grant health1…lab --classes lab-result --purposes TREAT --permissions read --expires 720h " +
			"--key-grants $(healthd records key-grants health1…lab --classes lab-result --from alice) --from alice",
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
				out = append(out, base64.StdEncoding.EncodeToString(g))
			}
			cmd.Println(strings.Join(out, ","))
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

			// encrypt to a temporary file, hashing the ciphertext as it is written
			in, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			st, err := in.Stat()
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp("", "healthd-put-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			dataKey, err := crypto.NewDataKey()
			if err != nil {
				return err
			}
			hasher := sha256.New()
			w, err := crypto.NewRecordWriter(io.MultiWriter(tmp, hasher), dataKey,
				crypto.Header{DataClass: class, Patient: patient, FHIRResourceType: fhirType})
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, progress(cmd, "encrypting", in, st.Size())); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			var hash vault.Hash
			copy(hash[:], hasher.Sum(nil))
			size, err := tmp.Seek(0, io.SeekCurrent)
			if err != nil {
				return err
			}
			if _, err := tmp.Seek(0, io.SeekStart); err != nil {
				return err
			}

			vc := &vault.Client{BaseURL: vaultURL, Keyring: clientCtx.Keyring, UID: clientCtx.FromName, Address: me}
			if err := vc.Put(cmd.Context(), hash, progress(cmd, "uploading", tmp, size), size); err != nil {
				return err
			}
			envelope, err := crypto.WrapDataKey(classKey, dataKey, kctx, hash[:])
			if err != nil {
				return err
			}
			u, err := url.Parse(vaultURL)
			if err != nil {
				return err
			}
			msg := &recordstypes.MsgCreateRecords{Author: me, Patient: patient, Purpose: purpose, Entries: []recordstypes.RecordEntry{{
				DataClass: class, FhirResourceType: fhirType, ContentHash: hash[:], Size_: uint64(size),
				StorageUri: "vault://" + u.Host + "/" + hash.String(), KeyEnvelope: envelope, KeyEpoch: kctx.Epoch,
			}}}
			var resp recordstypes.MsgCreateRecordsResponse
			if err := sendAndWait(cmd, clientCtx, msg, &resp); err != nil {
				return fmt.Errorf("uploaded, but the record was not committed (the vault deletes the upload after its TTL): %w", err)
			}
			return printJSON(cmd, map[string]any{"record_id": resp.Ids[0], "content_hash": hash.String(), "size": size})
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

			var access recordstypes.MsgAccessRecordResponse
			if err := sendAndWait(cmd, clientCtx, &recordstypes.MsgAccessRecord{Accessor: me, RecordId: id, Purpose: purpose}, &access); err != nil {
				return fmt.Errorf("access refused: %w", err)
			}

			vaultURL, _ := cmd.Flags().GetString("vault")
			if vaultURL == "" {
				if vaultURL, err = vaultFromURI(rec.StorageUri); err != nil {
					return err
				}
			}
			ct, err := os.CreateTemp(filepath.Dir(out), ".healthd-get-*")
			if err != nil {
				return err
			}
			defer os.Remove(ct.Name())
			defer ct.Close()
			var hash vault.Hash
			copy(hash[:], rec.ContentHash)
			vc := &vault.Client{BaseURL: vaultURL, Keyring: clientCtx.Keyring, UID: clientCtx.FromName, Address: me}
			if _, err := vc.Get(cmd.Context(), hash, ct, int64(rec.Size_)); err != nil {
				return err
			}
			classKey, kctx, err := classKeyFor(cmd.Context(), clientCtx, me, rec.Patient, priv, rec.DataClass, rec.KeyEpoch)
			if err != nil {
				return err
			}
			dataKey, err := crypto.UnwrapDataKey(classKey, rec.KeyEnvelope, kctx, rec.ContentHash)
			if err != nil {
				return err
			}
			if _, err := ct.Seek(0, io.SeekStart); err != nil {
				return err
			}
			hdr, plain, err := crypto.NewRecordReader(ct, dataKey)
			if err != nil {
				return err
			}
			if hdr.Patient != rec.Patient || hdr.DataClass != rec.DataClass {
				return errors.New("the ciphertext's header does not match the on-chain record")
			}
			pt, err := os.CreateTemp(filepath.Dir(out), ".healthd-plain-*")
			if err != nil {
				return err
			}
			defer os.Remove(pt.Name())
			n, err := io.Copy(pt, progress(cmd, "decrypting", plain, int64(rec.Size_)))
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
// me: the patient derives it; a grantee opens a key grant of one of the
// patient's consents to it. epoch 0 means the newest epoch me can find.
func classKeyFor(ctx context.Context, clientCtx client.Context, me, patient string, priv hpke.PrivateKey,
	class string, epoch uint64,
) ([]byte, crypto.KeyContext, error) {
	cq := consenttypes.NewQueryClient(clientCtx)
	var grants [][]byte
	var next []byte
	for {
		var (
			resp *consenttypes.QueryConsentsResponse
			err  error
		)
		if me == patient { // the patient's own grants tell which epoch is current
			resp, err = cq.ConsentsByPatient(ctx, &consenttypes.QueryConsentsByPatientRequest{Patient: patient, Pagination: &query.PageRequest{Key: next}})
		} else {
			resp, err = cq.ConsentsByGrantee(ctx, &consenttypes.QueryConsentsByGranteeRequest{Grantee: me, Pagination: &query.PageRequest{Key: next}})
		}
		if err != nil {
			return nil, crypto.KeyContext{}, err
		}
		for _, c := range resp.Consents {
			if c.Patient == patient {
				grants = append(grants, c.KeyGrants...)
			}
		}
		if resp.Pagination == nil || len(resp.Pagination.NextKey) == 0 {
			break
		}
		next = resp.Pagination.NextKey
	}
	best := uint64(0)
	var bestGrant []byte
	for _, g := range grants {
		if c, e, ok := crypto.GrantLabel(g); ok && c == class && (epoch == 0 && e > best || epoch != 0 && e == epoch) {
			best, bestGrant = e, g
		}
	}
	if me == patient {
		kctx := crypto.KeyContext{Patient: patient, DataClass: class, Epoch: max(epoch, best, 1)}
		key, err := crypto.PatientClassKey(priv, kctx)
		return key, kctx, err
	}
	if bestGrant == nil {
		return nil, crypto.KeyContext{}, fmt.Errorf("no key grant for %s from patient %s: the patient's consent to you carries none "+
			"(ask the patient to grant again with the key)", class, patient)
	}
	key, kctx, err := crypto.UnwrapClassKey(priv, bestGrant, patient)
	return key, kctx, err
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
