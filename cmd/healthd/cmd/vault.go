package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"

	"github.com/healthd-chain/healthd/chaincfg"
	"github.com/healthd-chain/healthd/vault"
)

// vaultCommand is `healthd vault`: the off-chain store of encrypted records.
func vaultCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "vault", Short: "The off-chain store of encrypted records (run one beside a node)"}
	cmd.AddCommand(vaultStartCmd())
	return cmd
}

func vaultStartCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run a vault: stores ciphertext by SHA-256, serves it only against fresh on-chain access receipts",
		Long: "Runs the vault's HTTP service. Uploads (PUT /v1/blobs/{sha256}) are accepted from registered patients and " +
			"active providers; downloads (GET) need a fresh access receipt on chain for a record with that hash, and an " +
			"erased record answers 410. Requests are signed by account keys. A periodic sweep deletes the blobs of erased " +
			"records and moves uploads no record committed to within --uncommitted-ttl to a quarantine (deleted after " +
			"--quarantine-retention); it removes nothing while the node is of another chain, below the height the vault has " +
			"seen, catching up or behind. The vault never sees plaintext.",
		Example: "healthd vault start --data ~/.healthd/vault --listen 127.0.0.1:8800 --chain-grpc 127.0.0.1:9090",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, _ := cmd.Flags().GetString(flags.FlagHome)
			data, _ := cmd.Flags().GetString("data")
			if data == "" {
				data = filepath.Join(home, "vault")
			}
			listen, _ := cmd.Flags().GetString("listen")
			grpcAddr, _ := cmd.Flags().GetString("chain-grpc")
			gcEvery, err := positiveDuration(cmd, "gc-interval")
			if err != nil {
				return err
			}
			var cfg vault.Config
			if err := limitFlags(cmd,
				map[string]*int64{"max-blob-size": &cfg.MaxBlobSize, "quota": &cfg.QuotaBytes, "min-transfer-rate": &cfg.MinTransferRate},
				map[string]*time.Duration{
					"receipt-max-age": &cfg.ReceiptMaxAge, "uncommitted-ttl": &cfg.UncommittedTTL, "transfer-slack": &cfg.TransferSlack,
					"quarantine-retention": &cfg.QuarantineRetention, "max-chain-lag": &cfg.MaxChainLag,
				}); err != nil {
				return err
			}
			cfg.ChainStateFile = filepath.Join(data, "chain.json")
			cfg.RateLimit, _ = cmd.Flags().GetFloat64("rate-limit")
			cfg.RateBurst, _ = cmd.Flags().GetInt("rate-burst")
			if cfg.RateLimit < 0 || cfg.RateBurst < 0 {
				return fmt.Errorf("--rate-limit and --rate-burst must not be negative (0 means the default)")
			}

			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			store, err := vault.NewDiskStore(data)
			if err != nil {
				return fmt.Errorf("open the store in %s: %w", data, err)
			}
			defer store.Close()
			if err := store.CleanTemp(); err != nil {
				log.Warn("could not clean all interrupted uploads", "err", err)
			}
			chain, err := vault.DialChain(grpcAddr)
			if err != nil {
				return err
			}
			defer chain.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			verifier := vault.NewVerifier(addresscodec.NewBech32Codec(chaincfg.Bech32Prefix), 5*time.Minute)
			srv, err := vault.NewServer(ctx, cfg, store, chain, verifier, log)
			if err != nil {
				return err
			}
			go func() { // the sweep: erased records' blobs and stale uploads
				t := time.NewTicker(gcEvery)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						if _, err := srv.CollectGarbage(ctx); err != nil {
							log.Warn("sweep skipped", "err", err)
						}
					}
				}
			}()
			hs := srv.HTTPServer(listen)
			errc := make(chan error, 1)
			go func() { errc <- hs.ListenAndServe() }()
			log.Info("vault started", "listen", listen, "data", data, "grpc", grpcAddr)
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
				shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				log.Info("vault stopped")
				return nil
			}
		},
	}
	cmd.Flags().String("data", "", "where blobs are stored (default: <home>/vault)")
	cmd.Flags().String("listen", "127.0.0.1:8800", "HTTP listen address")
	cmd.Flags().String("chain-grpc", "127.0.0.1:9090", "gRPC address of the node to ask about receipts and accounts (not --grpc: that name is app.toml's gRPC server section)")
	cmd.Flags().Duration("gc-interval", 5*time.Minute, "how often erased and never-committed blobs are swept")
	cmd.Flags().Int64("max-blob-size", 4<<30, "largest upload, bytes")
	cmd.Flags().Int64("quota", 64<<30, "bytes one account may have stored")
	cmd.Flags().Duration("receipt-max-age", 15*time.Minute, "how recent an access receipt must be for a download")
	cmd.Flags().Duration("uncommitted-ttl", 24*time.Hour, "how long an upload may wait for its on-chain record")
	cmd.Flags().Int64("min-transfer-rate", 64<<10, "slowest accepted upload or download, bytes/s (after --transfer-slack)")
	cmd.Flags().Duration("transfer-slack", time.Minute, "fixed time allowed for a transfer on top of size/--min-transfer-rate")
	cmd.Flags().Duration("quarantine-retention", 30*24*time.Hour, "how long a never-committed upload stays in <data>/quarantine before it is deleted")
	cmd.Flags().Float64("rate-limit", 50, "requests per second one account may make on average (429 beyond); unknown accounts share one allowance")
	cmd.Flags().Int("rate-burst", 100, "requests one account may make at once")
	cmd.Flags().Duration("max-chain-lag", 2*time.Minute, "the sweep removes nothing while the node's latest block is older than this")
	return cmd
}
