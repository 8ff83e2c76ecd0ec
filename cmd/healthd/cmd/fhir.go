package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	gogoproto "github.com/cosmos/gogoproto/proto"
	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/crypto"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// fhirCommands are `healthd fhir import|export`: FHIR R4 Bundles in and out,
// each resource one encrypted record.
func fhirCommands() *cobra.Command {
	cmd := &cobra.Command{Use: "fhir", Short: "Import and export FHIR R4 Bundles (each resource one encrypted record)"}
	cmd.AddCommand(fhirImportCmd(), fhirExportCmd())
	return cmd
}

// importableBundleTypes are the Bundle types whose entries are resources to keep.
var importableBundleTypes = []string{"document", "collection", "transaction", "searchset", "batch"}

var resourceTypeRE = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)

// ClassOfResource maps a FHIR R4 resource to a healthd data class.
func ClassOfResource(resourceType string, resource []byte) string {
	categoryHas := func(words ...string) bool {
		var r struct {
			Category json.RawMessage `json:"category"`
		}
		_ = json.Unmarshal(resource, &r)
		c := strings.ToLower(string(r.Category))
		for _, w := range words {
			if strings.Contains(c, w) {
				return true
			}
		}
		return false
	}
	switch resourceType {
	case "Condition":
		return "diagnosis"
	case "Observation":
		if categoryHas("vital-signs") {
			return "vital-signs"
		}
		return "lab-result"
	case "DiagnosticReport":
		if categoryHas("imaging", `"rad"`) {
			return "imaging"
		}
		return "lab-result"
	case "MedicationRequest", "MedicationStatement", "MedicationDispense", "MedicationAdministration":
		return "prescription"
	case "AllergyIntolerance":
		return "allergy"
	case "Immunization":
		return "immunization"
	case "Procedure":
		return "procedure"
	case "ImagingStudy":
		return "imaging"
	case "DocumentReference", "Composition", "ClinicalImpression":
		return "clinical-note"
	default: // Patient, Encounter, Practitioner, …
		return "other"
	}
}

type bundleEntry struct {
	Resource json.RawMessage `json:"resource"`
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Entry        []bundleEntry `json:"entry"`
}

// parseBundle reads an R4 Bundle and returns its resources with their types and
// classes. Any problem is reported before anything is uploaded.
func parseBundle(raw []byte) (types, classes []string, resources []json.RawMessage, err error) {
	var b bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, nil, nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if b.ResourceType != "Bundle" {
		return nil, nil, nil, fmt.Errorf("not a FHIR Bundle (resourceType %q)", b.ResourceType)
	}
	if !slices.Contains(importableBundleTypes, b.Type) {
		return nil, nil, nil, fmt.Errorf("Bundle type %q cannot be imported: want one of %s", b.Type, strings.Join(importableBundleTypes, ", "))
	}
	if len(b.Entry) == 0 {
		return nil, nil, nil, errors.New("the Bundle has no entries")
	}
	for i, e := range b.Entry {
		var r struct {
			ResourceType string `json:"resourceType"`
		}
		if len(e.Resource) == 0 || json.Unmarshal(e.Resource, &r) != nil || !resourceTypeRE.MatchString(r.ResourceType) {
			return nil, nil, nil, fmt.Errorf("entry %d has no resource with a valid resourceType", i)
		}
		types = append(types, r.ResourceType)
		classes = append(classes, ClassOfResource(r.ResourceType, e.Resource))
		resources = append(resources, e.Resource)
	}
	return types, classes, resources, nil
}

func fhirImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import [bundle.json]",
		Short: "Import a FHIR R4 Bundle: each resource becomes one encrypted record, committed in batches",
		Long: "Reads a Bundle (document, collection, transaction, searchset or batch), maps each resource to a data class " +
			"(Condition→diagnosis, Observation→lab-result or vital-signs, MedicationRequest→prescription, " +
			"AllergyIntolerance→allergy, Immunization, Procedure, DiagnosticReport→lab-result or imaging, …, others→other), " +
			"encrypts and uploads each, and commits them in batches of the chain's max_batch_size. The whole Bundle is " +
			"checked before anything is uploaded; if a batch fails, the output says exactly which resources were committed.",
		Example: "healthd fhir import bundle.json --patient health1… --purpose TREAT --from hospital",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			types, classes, resources, err := parseBundle(raw)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
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
			purpose, _ := cmd.Flags().GetString("purpose")
			vaultURL, _ := cmd.Flags().GetString("vault")
			params, err := recordstypes.NewQueryClient(clientCtx).Params(cmd.Context(), &recordstypes.QueryParamsRequest{})
			if err != nil {
				return err
			}

			// consents and class keys first: a missing one fails before any upload
			keys := map[string][]byte{}
			ctxs := map[string]crypto.KeyContext{}
			for _, c := range classes {
				if _, done := keys[c]; done {
					continue
				}
				if err := mayAccess(cmd.Context(), clientCtx, me, patient, c, consenttypes.PermissionWrite, purpose, time.Time{}); err != nil {
					return fmt.Errorf("nothing was imported: %w", err)
				}
				if keys[c], ctxs[c], err = classKeyFor(cmd.Context(), clientCtx, me, patient, priv, c, 0); err != nil {
					return fmt.Errorf("nothing was imported: class %s: %w", c, err)
				}
			}
			u := uploader{cmd: cmd, clientCtx: clientCtx, me: me, vaultURL: vaultURL}
			entries := make([]recordstypes.RecordEntry, len(resources))
			for i, r := range resources {
				if entries[i], err = u.encryptAndUpload(bytes.NewReader(r), int64(len(r)), classes[i], types[i], patient, keys[classes[i]], ctxs[classes[i]]); err != nil {
					return fmt.Errorf("resource %d (%s): %w", i, types[i], err)
				}
			}

			type imported struct {
				Index        int    `json:"index"`
				ResourceType string `json:"resource_type"`
				DataClass    string `json:"data_class"`
				RecordID     uint64 `json:"record_id"`
			}
			var done []imported
			batch := int(params.Params.MaxBatchSize)
			for start := 0; start < len(entries); start += batch {
				end := min(start+batch, len(entries))
				var resp recordstypes.MsgCreateRecordsResponse
				msg := &recordstypes.MsgCreateRecords{Author: me, Patient: patient, Purpose: purpose, Entries: entries[start:end]}
				if err := sendAndWait(cmd, clientCtx, msg, &resp); err != nil {
					_ = printJSON(cmd, map[string]any{"committed": done})
					return fmt.Errorf("resources %d-%d were not committed (%d before them were, listed above): %w", start, len(entries)-1, len(done), err)
				}
				for i, id := range resp.Ids {
					done = append(done, imported{Index: start + i, ResourceType: types[start+i], DataClass: classes[start+i], RecordID: id})
				}
				cmd.PrintErrf("committed %d of %d resources\n", len(done), len(entries))
			}
			return printJSON(cmd, map[string]any{"committed": done})
		},
	}
	cmd.Flags().String("patient", "", "the patient (default: the signer)")
	cmd.Flags().String("purpose", "TREAT", "purpose of the writes (HL7 ActReason)")
	cmd.Flags().String("vault", "http://127.0.0.1:8800", "vault URL")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// receiptsPerTx is how many access receipts `fhir export` takes per transaction.
const receiptsPerTx = 32

func fhirExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a patient's records you may read as a FHIR R4 Bundle (a receipt is taken for each)",
		Long: "Reads every active record of --patient that the signer may read for --purpose and decrypts it into a " +
			"collection Bundle written to --out. Each read is an access receipt on chain, which the patient sees; " +
			"receipts are taken in batches, one transaction per " + fmt.Sprint(receiptsPerTx) + " records. Records the " +
			"signer may not read (no consent for the class or purpose, no key grant) are left out, take no receipt, and " +
			"are listed with the reason. --out is written only if every readable record was exported.",
		Example: "healthd fhir export --patient health1… --purpose TREAT --out bundle.json --from lab",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			clientCtx, err := client.GetClientTxContext(cmd)
			if err != nil {
				return err
			}
			out, _ := cmd.Flags().GetString("out")
			if out == "" {
				return errors.New("--out FILE is required")
			}
			me, priv, err := accountKey(clientCtx)
			if err != nil {
				return err
			}
			patient, _ := cmd.Flags().GetString("patient")
			if patient == "" {
				patient = me
			}
			purpose, _ := cmd.Flags().GetString("purpose")
			vaultURL, _ := cmd.Flags().GetString("vault")

			type readable struct {
				rec  recordstypes.Record
				key  []byte
				kctx crypto.KeyContext
			}
			type notRead struct {
				RecordID  uint64 `json:"record_id"`
				DataClass string `json:"data_class"`
				Reason    string `json:"reason"`
			}
			var todo []readable
			notReadable := []notRead{}
			type classEpoch struct {
				class string
				epoch uint64
			}
			keys := map[classEpoch]readable{}
			keyErrs := map[classEpoch]error{}
			rq := recordstypes.NewQueryClient(clientCtx)
			var next []byte
			for {
				resp, err := rq.RecordsByPatient(cmd.Context(), &recordstypes.QueryRecordsByPatientRequest{
					Patient: patient, Status: recordstypes.RECORD_STATUS_ACTIVE, Pagination: &query.PageRequest{Key: next},
				})
				if err != nil {
					return err
				}
				for _, rec := range resp.Records {
					if err := mayRead(cmd.Context(), clientCtx, me, rec, purpose); err != nil {
						if !errors.Is(err, errAccessRefused) {
							return err
						}
						notReadable = append(notReadable, notRead{rec.Id, rec.DataClass, err.Error()})
						continue
					}
					ce := classEpoch{rec.DataClass, rec.KeyEpoch}
					if _, seen := keys[ce]; !seen && keyErrs[ce] == nil {
						k, kctx, err := classKeyFor(cmd.Context(), clientCtx, me, patient, priv, ce.class, ce.epoch)
						if err != nil {
							keyErrs[ce] = err
						} else {
							keys[ce] = readable{key: k, kctx: kctx}
						}
					}
					if err := keyErrs[ce]; err != nil {
						notReadable = append(notReadable, notRead{rec.Id, rec.DataClass, err.Error()})
						continue
					}
					todo = append(todo, readable{rec: rec, key: keys[ce].key, kctx: keys[ce].kctx})
				}
				if resp.Pagination == nil || len(resp.Pagination.NextKey) == 0 {
					break
				}
				next = resp.Pagination.NextKey
			}

			b := bundle{ResourceType: "Bundle", Type: "collection", Entry: []bundleEntry{}}
			for start := 0; start < len(todo); start += receiptsPerTx {
				batch := todo[start:min(start+receiptsPerTx, len(todo))]
				msgs := make([]sdk.Msg, len(batch))
				resps := make([]gogoproto.Message, len(batch))
				for i, r := range batch {
					msgs[i] = &recordstypes.MsgAccessRecord{Accessor: me, RecordId: r.rec.Id, Purpose: purpose}
					resps[i] = &recordstypes.MsgAccessRecordResponse{}
				}
				if err := sendMsgsAndWait(cmd, clientCtx, msgs, resps); err != nil {
					return fmt.Errorf("taking the receipts for records %d to %d (nothing was written): %w",
						batch[0].rec.Id, batch[len(batch)-1].rec.Id, err)
				}
				for _, r := range batch {
					var buf bytes.Buffer
					if _, err := decryptRecord(cmd, clientCtx, me, r.rec, vaultURL, r.key, r.kctx, &buf); err != nil {
						return fmt.Errorf("record %d: %w (nothing was written)", r.rec.Id, err)
					}
					if !json.Valid(buf.Bytes()) {
						return fmt.Errorf("record %d (%s) is not a JSON FHIR resource (nothing was written): "+
							"use `healthd records get` for it", r.rec.Id, r.rec.FhirResourceType)
					}
					b.Entry = append(b.Entry, bundleEntry{Resource: json.RawMessage(buf.Bytes())})
				}
				cmd.PrintErrf("exported %d of %d records\n", len(b.Entry), len(todo))
			}
			b.Timestamp = time.Now().UTC().Format(time.RFC3339)
			data, err := json.MarshalIndent(b, "", "  ")
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, append(data, '\n')); err != nil {
				return err
			}
			return printJSON(cmd, map[string]any{"exported": len(b.Entry), "not_read": notReadable, "out": out})
		},
	}
	cmd.Flags().String("patient", "", "the patient (default: the signer)")
	cmd.Flags().String("purpose", "TREAT", "purpose of the reads (HL7 ActReason), recorded in each receipt")
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
