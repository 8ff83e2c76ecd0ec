package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/fhir"
)

// fhirCommands are `healthd fhir import|export`: FHIR R4 Bundles in and out,
// each resource one encrypted record.
func fhirCommands() *cobra.Command {
	cmd := &cobra.Command{Use: "fhir", Short: "FHIR R4: import and export Bundles (each resource one encrypted record), and serve the FHIR REST API"}
	cmd.AddCommand(fhirImportCmd(), fhirExportCmd(), fhirServeCmd(), fhirPatientsCmd())
	return cmd
}

func fhirImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import [bundle.json]",
		Short: "Import a FHIR R4 Bundle: each resource becomes one encrypted record, committed in batches",
		Long: "Reads a Bundle (document, collection, transaction, searchset or batch), maps each resource to a data class " +
			"(Condition→diagnosis, Observation→lab-result or vital-signs, MedicationRequest→prescription, " +
			"AllergyIntolerance→allergy, Immunization, Procedure, DiagnosticReport→lab-result or imaging, …, others→other), " +
			"encrypts and uploads each, and commits them in batches of the chain's max_batch_size. The whole Bundle is " +
			"checked before anything is uploaded; if a batch fails, the output says exactly which resources were committed.\n\n" +
			"References to the Bundle's own Patient entry become a reference to the patient's chain account " +
			"(identifier system urn:healthd:account), so no id or MRN of the Bundle's origin names her inside the records.\n\n" +
			"Run it again after any interruption (a crash, kill -9, a lost connection): it files only what is missing. Each " +
			"resource is encrypted under a key derived from the signer's account key and the resource's exact bytes, so a " +
			"resource filed before has the same content hash as its record on chain; it is listed with \"already_filed\": true " +
			"and not filed again. A resource whose bytes changed since the first run is a new record beside the old one " +
			"(correct the old one with an amendment instead); one the patient erased since is not filed again.",
		Example: "healthd fhir import bundle.json --patient health1… --purpose TREAT --from hospital",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			bundle, err := fhir.ParseBundle(raw)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			raw = nil // the parsed resources keep what is needed
			a, f, err := bulkArgs(cmd)
			if err != nil {
				return err
			}
			done, err := a.ImportBundle(cmd.Context(), bundle, f.patient, f.purpose, f.vault, bulkProgress(cmd))
			before := 0
			for _, d := range done {
				if d.AlreadyFiled {
					before++
				}
			}
			out := map[string]any{"committed": done, "new": len(done) - before, "already_filed": before}
			if err != nil {
				if len(done) > 0 {
					_ = printJSON(cmd, out)
					return fmt.Errorf("%w (the committed ones are listed above; run the same import again to file the rest)", err)
				}
				return err
			}
			return printJSON(cmd, out)
		},
	}
	cmd.Flags().String("patient", "", "the patient (default: the signer)")
	cmd.Flags().String("purpose", agent.DefaultPurpose, "purpose of the writes (HL7 ActReason)")
	cmd.Flags().String("vault", "http://127.0.0.1:8800", "vault URL")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

func fhirExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a patient's records you may read as a FHIR R4 Bundle (a receipt is taken for each)",
		Long: "Reads every active record of --patient that the signer may read for --purpose and decrypts it into a " +
			"collection Bundle written to --out. Each read is an access receipt on chain, which the patient sees; " +
			"receipts are taken in batches, one transaction per " + fmt.Sprint(agent.ReceiptsPerTx) + " records. Records the " +
			"signer may not read (no consent for the class or purpose, no key grant) are left out, take no receipt, and " +
			"are listed with the reason; so are records that cannot be downloaded or decrypted (a refused or missing blob, a " +
			"key envelope that does not open). A vault that cannot be reached stops the export, and then nothing is written.",
		Example: "healthd fhir export --patient health1… --purpose TREAT --out bundle.json --from lab",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _ := cmd.Flags().GetString("out")
			if out == "" {
				return errors.New("--out FILE is required")
			}
			a, f, err := bulkArgs(cmd)
			if err != nil {
				return err
			}
			b, notRead, err := a.ExportBundle(cmd.Context(), f.patient, f.purpose, f.vault, bulkProgress(cmd))
			if err != nil {
				return fmt.Errorf("%w (nothing was written)", err)
			}
			data, err := json.MarshalIndent(b, "", "  ")
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, append(data, '\n')); err != nil {
				return err
			}
			return printJSON(cmd, map[string]any{"exported": len(b.Entry), "not_read": notRead, "out": out})
		},
	}
	cmd.Flags().String("patient", "", "the patient (default: the signer)")
	cmd.Flags().String("purpose", agent.DefaultPurpose, "purpose of the reads (HL7 ActReason), recorded in each receipt")
	cmd.Flags().String("out", "", "file to write the Bundle to")
	cmd.Flags().String("vault", "", "vault URL (default: from each record's storage URI)")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, so a reader never sees a half-written file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".healthd-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// bulkFlags are the flags import and export share.
type bulkFlags struct{ patient, purpose, vault string }

// bulkArgs returns the signing agent and the shared flags of a bulk command.
func bulkArgs(cmd *cobra.Command) (*agent.Agent, bulkFlags, error) {
	var f bulkFlags
	a, err := txAgent(cmd)
	if err != nil {
		return nil, f, err
	}
	f.patient, _ = cmd.Flags().GetString("patient")
	f.purpose, _ = cmd.Flags().GetString("purpose")
	f.vault, _ = cmd.Flags().GetString("vault")
	return a, f, nil
}
