package cmd

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/fhir/server"
	"github.com/healthd-chain/healthd/fhir/smart"
)

// fhirServeCmd is `healthd fhir serve`: the organization's FHIR R4 endpoint.
func fhirServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a FHIR R4 REST API for one organization's key (SMART Backend Services auth; see docs/fhir.md)",
		Long: "Runs the organization's FHIR R4 endpoint next to its EHR. Keys stay in this process: it encrypts, decrypts and " +
			"signs as --from, through the code of the CLI. Clients authenticate with SMART Backend Services (registered in " +
			"--clients, a JSON file of client ids, public keys (JWKS), scopes and purposes of use). Patients are named by the " +
			"EHR's MRNs, mapped to chain accounts by --patients (managed with `healthd fhir patients`). Every read takes an " +
			"access receipt on chain; every write is a record the chain checks against the patient's consents.",
		Example: "healthd fhir serve --from hospital --clients fhir-clients.json --listen 127.0.0.1:8090 --vault http://127.0.0.1:8800",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			listen, _ := cmd.Flags().GetString("listen")
			remote, _ := cmd.Flags().GetBool("allow-remote")
			vaultURL, _ := cmd.Flags().GetString("vault")
			clientsFile, _ := cmd.Flags().GetString("clients")
			baseURL, _ := cmd.Flags().GetString("base-url")
			mrnSystems, _ := cmd.Flags().GetStringSlice("mrn-system")
			if err := checkLoopback(listen, remote, "the FHIR server"); err != nil {
				return err
			}
			if clientsFile == "" {
				return fmt.Errorf("--clients FILE is required: the SMART backend clients allowed to call (see docs/fhir.md)")
			}
			clients, err := smart.LoadConfig(clientsFile)
			if err != nil {
				return err
			}
			patients, err := openPatients(cmd)
			if err != nil {
				return err
			}
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			a.Progress = nil
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			if baseURL == "" {
				baseURL = "http://" + ln.Addr().String()
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			reg, err := serveMetrics(cmd.Context(), cmd, log)
			if err != nil {
				return err
			}
			srv, err := server.New(a, server.Options{
				BaseURL: baseURL, VaultURL: vaultURL, Clients: clients, Patients: patients, Logger: log, MRNSystems: mrnSystems,
				Metrics: reg,
			})
			if err != nil {
				return err
			}
			cmd.Printf("healthd FHIR R4 server for %s (%s) at %s (token endpoint %s/token; %d clients; patients in %s)\n",
				a.KeyName(), a.Address(), baseURL, strings.TrimSuffix(baseURL, "/"), len(clients.Clients), patients.Path())
			return serveUntilSignal(cmd.Context(), ln, srv)
		},
	}
	cmd.Flags().String("listen", "127.0.0.1:8090", "address to serve on (loopback unless --allow-remote)")
	cmd.Flags().Bool("allow-remote", false, "allow a non-loopback --listen address (put TLS in front of it)")
	cmd.Flags().String("base-url", "", "the server's public base URL, which client assertions name as the token endpoint's audience (default http://LISTEN)")
	cmd.Flags().String("clients", "", "the registered SMART backend clients (JSON; see docs/fhir.md)")
	cmd.Flags().String("vault", "http://127.0.0.1:8800", "vault URL for new records")
	cmd.Flags().StringSlice("mrn-system", []string{server.MRNSystem}, "identifier systems of the EHR's MRNs: a Patient resource's "+
		"identifier names a patient of the table only under one of these (repeat or comma-separate)")
	patientsFlag(cmd)
	metricsFlag(cmd)
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

func patientsFlag(cmd *cobra.Command) {
	cmd.Flags().String("patients", "", "the MRN table (default HOME/fhir/patients.json)")
}

// openPatients opens --patients, by default under the node home.
func openPatients(cmd *cobra.Command) (*server.Patients, error) {
	path, _ := cmd.Flags().GetString("patients")
	if path == "" {
		home, _ := cmd.Flags().GetString(flags.FlagHome)
		if home == "" {
			home = client.GetClientContextFromCmd(cmd).HomeDir
		}
		path = filepath.Join(home, "fhir", "patients.json")
	}
	return server.OpenPatients(path)
}

// fhirPatientsCmd is `healthd fhir patients`: the MRN table.
func fhirPatientsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "patients",
		Short: "Manage the FHIR server's table from the EHR's patient ids (MRNs) to chain accounts (local file, never on chain)",
	}
	set := &cobra.Command{
		Use:     "set MRN ADDRESS",
		Short:   "Map an MRN to a patient's chain account (replacing earlier mappings of either)",
		Example: "healthd fhir patients set MRN-000123 health1…",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openPatients(cmd)
			if err != nil {
				return err
			}
			if _, err := sdk.AccAddressFromBech32(args[1]); err != nil {
				return fmt.Errorf("%q is not an account address: %w", args[1], err)
			}
			if err := p.Set(args[0], args[1]); err != nil {
				return err
			}
			return printJSON(cmd, map[string]string{"mrn": args[0], "address": args[1], "table": p.Path()})
		},
	}
	rm := &cobra.Command{
		Use:   "rm MRN",
		Short: "Forget an MRN",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openPatients(cmd)
			if err != nil {
				return err
			}
			return p.Remove(args[0])
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the table",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := openPatients(cmd)
			if err != nil {
				return err
			}
			rows, err := p.List()
			if err != nil {
				return err
			}
			out := make([]map[string]string, len(rows))
			for i, r := range rows {
				out[i] = map[string]string{"mrn": r[0], "address": r[1]}
			}
			return printJSON(cmd, map[string]any{"patients": out, "table": p.Path()})
		},
	}
	for _, c := range []*cobra.Command{set, rm, list} {
		patientsFlag(c)
		cmd.AddCommand(c)
	}
	return cmd
}
