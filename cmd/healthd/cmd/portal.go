package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/healthd-chain/healthd/portal"
)

// portalCmd is `healthd portal`: the local web app of one key.
func portalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "portal",
		Short: "Run the web portal for one key: records, consents, the access log, filing and reading records",
		Long: "Serves a web app for the holder of --from, on loopback by default. Keys never leave this process: " +
			"signing, encryption and decryption run here through the same code as `healthd records` and " +
			"`healthd fhir`; the page talks only to this process. Open the link printed at start: it works once, and " +
			"becomes a session cookie (a random id, not the link's secret) that ends after --session-ttl; restart the " +
			"portal for a new link. Until it is used, anyone who has the link can act as this key.",
		Example: "healthd portal --from alice --listen 127.0.0.1:8080 --vault http://127.0.0.1:8800",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			listen, _ := cmd.Flags().GetString("listen")
			remote, _ := cmd.Flags().GetBool("allow-remote")
			vaultURL, _ := cmd.Flags().GetString("vault")
			urlFile, _ := cmd.Flags().GetString("url-file")
			ttl, err := positiveDuration(cmd, "session-ttl")
			if err != nil {
				return err
			}
			if err := checkLoopback(listen, remote, "the portal"); err != nil {
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
			addr := ln.Addr().String()
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			reg, err := serveMetrics(cmd.Context(), cmd, log)
			if err != nil {
				return err
			}
			p, err := portal.New(a, portal.Options{VaultURL: vaultURL, Hosts: portal.LoopbackHosts(addr), Logger: log, SessionTTL: ttl, Metrics: reg})
			if err != nil {
				return err
			}
			url := "http://" + addr + p.LoginPath()
			if urlFile != "" {
				if err := writeFileAtomic(urlFile, []byte(url+"\n")); err != nil {
					return err
				}
				if err := os.Chmod(urlFile, 0o600); err != nil {
					return err
				}
			}
			cmd.Printf("healthd portal for %s (%s)\nopen %s\n", a.KeyName(), a.Address(), url)

			return serveUntilSignal(cmd.Context(), ln, p)
		},
	}
	cmd.Flags().String("listen", "127.0.0.1:8080", "address to serve on (loopback unless --allow-remote)")
	cmd.Flags().Bool("allow-remote", false, "allow a non-loopback --listen address (put TLS in front of it)")
	cmd.Flags().String("vault", "http://127.0.0.1:8800", "vault URL for new records")
	cmd.Flags().String("url-file", "", "also write the login link to this file (mode 0600)")
	cmd.Flags().Duration("session-ttl", 12*time.Hour, "how long a signed-in session lasts")
	metricsFlag(cmd)
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// serveUntilSignal serves h on ln until SIGINT or SIGTERM, then shuts down
// gracefully (30 s for requests in flight).
func serveUntilSignal(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Minute,
		WriteTimeout: 10 * time.Minute, IdleTimeout: 2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// checkLoopback refuses a --listen address off this machine unless
// --allow-remote: what listens signs with the operator's key.
func checkLoopback(listen string, remote bool, what string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: want host:port", listen)
	}
	if ip := net.ParseIP(host); !remote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--listen %s is not a loopback address: %s signs with your key, so it listens "+
			"only on this machine unless you pass --allow-remote (and put TLS in front of it)", listen, what)
	}
	return nil
}
