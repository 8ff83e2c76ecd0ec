package cmd

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/client/tx"

	"github.com/healthd-chain/healthd/client/agent"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// recordsCommands are the hand-written `healthd records` commands: the encrypted
// path (AutoCLI's `tx records create` is the raw commitment for integrations).
func recordsCommands() *cobra.Command {
	cmd := &cobra.Command{Use: "records", Short: "Encrypted records: put (encrypt, upload, commit) and get (receipt, download, decrypt)"}
	keyGrants := recordsKeyGrantsCmd()
	deprecated(keyGrants, "use `healthd consent grant`, which wraps the keys itself; this command goes in the next release")
	cmd.AddCommand(recordsPutCmd(), recordsGetCmd(), keyGrants, recordsRevokeCmd())
	return cmd
}

func recordsKeyGrantsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key-grants [grantee]",
		Short: "Wrap your class keys to a grantee's public key, for `tx consent grant --key-grants`",
		Long: "Derives your (the patient's) current class key of each --classes and wraps it to the grantee's encryption " +
			"key as published on chain (provider registry or patient profile). Prints one `--key-grants=…` flag per " +
			"class, ready to splice into `tx consent grant` (the flag is repeated, not comma-separated), so the grantee " +
			"can read (and write) without you online. A class key opens every record of its class up to now: a grantee " +
			"you let only write can decrypt your earlier records of that class too. The grants are base64: no spaces or " +
			"shell wildcards.",
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
			a, err := agent.New(clientCtx, tx.Factory{})
			if err != nil {
				return err
			}
			classes, _ := cmd.Flags().GetStringSlice("classes")
			grants, err := a.KeyGrants(cmd.Context(), args[0], classes)
			if err != nil {
				return err
			}
			out := make([]string, len(grants))
			for i, g := range grants {
				out[i] = "--key-grants=" + base64.StdEncoding.EncodeToString(g)
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
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			var req agent.PutRequest
			req.Patient, _ = cmd.Flags().GetString("patient")
			req.Class, _ = cmd.Flags().GetString("class")
			req.Purpose, _ = cmd.Flags().GetString("purpose")
			req.FHIRType, _ = cmd.Flags().GetString("fhir-type")
			req.VaultURL, _ = cmd.Flags().GetString("vault")
			in, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			st, err := in.Stat()
			if err != nil {
				return err
			}
			res, err := a.Put(cmd.Context(), in, st.Size(), req)
			if err != nil {
				return err
			}
			return printJSON(cmd, map[string]any{"record_id": res.ID, "content_hash": hex.EncodeToString(res.ContentHash), "size": res.Size})
		},
	}
	cmd.Flags().String("patient", "", "the patient (default: the signer)")
	cmd.Flags().String("class", "", "data class: "+strings.Join(consenttypes.DataClasses, ", "))
	cmd.Flags().String("purpose", agent.DefaultPurpose, "purpose of the write (HL7 ActReason)")
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
			"everything checks. The record's patient reads her own records without a receipt (receipt_id 0): that is " +
			"not a disclosure.",
		Example: "healthd records get 42 --purpose TREAT --out result.json --from lab",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, _ := cmd.Flags().GetString("out")
			if out == "" {
				return errors.New("--out FILE is required")
			}
			purpose, _ := cmd.Flags().GetString("purpose")
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			id, err := parseID("record id", args[0])
			if err != nil {
				return err
			}
			rec, err := a.Record(cmd.Context(), id)
			if err != nil {
				return err
			}

			vaultURL, _ := cmd.Flags().GetString("vault")
			pt, err := os.CreateTemp(filepath.Dir(out), ".healthd-plain-*")
			if err != nil {
				return err
			}
			defer os.Remove(pt.Name())
			access, n, err := a.Read(cmd.Context(), rec, purpose, vaultURL, pt)
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
	cmd.Flags().String("purpose", agent.DefaultPurpose, "purpose of the read (HL7 ActReason), recorded in the receipt")
	cmd.Flags().String("out", "", "file to write the plaintext to (written only if everything checks)")
	cmd.Flags().String("vault", "", "vault URL (default: from the record's storage URI)")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
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
