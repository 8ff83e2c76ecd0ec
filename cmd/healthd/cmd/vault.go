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
	"strings"
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
	cmd.AddCommand(vaultStartCmd(), vaultMigrateCmd(), vaultRecountCmd())
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
			cfg.SweepLease = 2*gcEvery + time.Minute
			cfg.RateLimit, _ = cmd.Flags().GetFloat64("rate-limit")
			cfg.RateBurst, _ = cmd.Flags().GetInt("rate-burst")
			if cfg.RateLimit < 0 || cfg.RateBurst < 0 {
				return fmt.Errorf("--rate-limit and --rate-burst must not be negative (0 means the default)")
			}

			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			if err := os.MkdirAll(data, 0o700); err != nil {
				return err
			}
			store, closeStore, err := openStore(cmd, data, log)
			if err != nil {
				return err
			}
			defer closeStore()
			chain, err := vault.DialChain(grpcAddr)
			if err != nil {
				return err
			}
			defer chain.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if cfg.Metrics, err = serveMetrics(ctx, cmd, log); err != nil {
				return err
			}
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
						if _, err := srv.CollectGarbage(ctx); errors.Is(err, vault.ErrNotSweeper) {
							log.Debug("sweep left to another replica")
						} else if err != nil {
							log.Warn("sweep skipped", "err", err)
						}
					}
				}
			}()
			hs := srv.HTTPServer(listen)
			errc := make(chan error, 1)
			go func() { errc <- hs.ListenAndServe() }()
			storeName, _ := cmd.Flags().GetString("store")
			log.Info("vault started", "listen", listen, "data", data, "store", storeName, "grpc", grpcAddr)
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
	cmd.Flags().String("data", "", "where blobs are stored with --store disk, and the vault's own state (default: <home>/vault)")
	cmd.Flags().String("store", "disk", "where blobs live: disk (under --data) or s3 (an S3-compatible bucket: --s3-*)")
	cmd.Flags().String("s3-bucket", "", "the bucket (it must exist)")
	cmd.Flags().String("s3-prefix", "", "a key prefix inside the bucket, e.g. healthd/")
	s3Flags(cmd)
	cmd.Flags().String("listen", "127.0.0.1:8800", "HTTP listen address")
	cmd.Flags().String("chain-grpc", "127.0.0.1:9090", "gRPC address of the node to ask about receipts and accounts (not --grpc: that name is app.toml's gRPC server section)")
	cmd.Flags().Duration("gc-interval", 5*time.Minute, "how often erased and never-committed blobs are swept (by one replica "+
		"of those sharing a bucket: it holds a lease of 2 × this + 1 min, renewed at each sweep)")
	cmd.Flags().Int64("max-blob-size", 4<<30, "largest upload, bytes")
	cmd.Flags().Int64("quota", 64<<30, "bytes one account may have stored")
	cmd.Flags().Duration("receipt-max-age", 15*time.Minute, "how recent an access receipt must be for a download")
	cmd.Flags().Duration("uncommitted-ttl", 24*time.Hour, "how long an upload may wait for its on-chain record")
	cmd.Flags().Int64("min-transfer-rate", 64<<10, "slowest accepted upload or download, bytes/s (after --transfer-slack)")
	cmd.Flags().Duration("transfer-slack", time.Minute, "fixed time allowed for a transfer on top of size/--min-transfer-rate")
	cmd.Flags().Duration("quarantine-retention", 30*24*time.Hour, "how long a never-committed upload stays in <data>/quarantine before it is deleted")
	cmd.Flags().Float64("rate-limit", 50, "requests per second one account may make on average (429 beyond); unknown accounts share one allowance")
	cmd.Flags().Int("rate-burst", 100, "requests one account may make at once")
	metricsFlag(cmd)
	cmd.Flags().Duration("max-chain-lag", 2*time.Minute, "the sweep removes nothing while the node's latest block is older than this")
	return cmd
}

// openStore opens the blob store --store names: the disk store under data
// (locked, interrupted uploads cleaned), or an S3-compatible bucket whose
// credentials come from --s3-credentials-file or the environment.
func openStore(cmd *cobra.Command, data string, log *slog.Logger) (vault.Store, func(), error) {
	kind, _ := cmd.Flags().GetString("store")
	switch kind {
	case "disk":
		store, err := vault.NewDiskStore(data)
		if err != nil {
			return nil, nil, fmt.Errorf("open the store in %s: %w", data, err)
		}
		if err := store.CleanTemp(); err != nil {
			log.Warn("could not clean all interrupted uploads", "err", err)
		}
		return store, func() { _ = store.Close() }, nil
	case "s3":
		bucket, _ := cmd.Flags().GetString("s3-bucket")
		prefix, _ := cmd.Flags().GetString("s3-prefix")
		store, err := openS3(cmd, bucket, prefix, log)
		if err != nil {
			return nil, nil, err
		}
		return store, func() {}, nil
	}
	return nil, nil, fmt.Errorf("--store %q: want disk or s3", kind)
}

// s3Flags adds the flags that say how to reach an object store.
func s3Flags(cmd *cobra.Command) {
	cmd.Flags().String("s3-endpoint", "", "the object store's host:port")
	cmd.Flags().String("s3-region", "", "the bucket's region, if the store wants one")
	cmd.Flags().Bool("s3-tls", true, "talk to the object store over TLS")
	cmd.Flags().Bool("s3-path-style", true, "address the bucket in the path (endpoint/bucket/key), as self-hosted stores want")
	cmd.Flags().String("s3-credentials-file", "", "a file with the access key on its first line and the secret key on its second "+
		"(default: the HEALTHD_S3_ACCESS_KEY and HEALTHD_S3_SECRET_KEY environment variables; never on the command line)")
}

// openS3 opens bucket/prefix of the object store the s3Flags name.
func openS3(cmd *cobra.Command, bucket, prefix string, log *slog.Logger) (*vault.S3Store, error) {
	cfg := vault.S3Config{Bucket: bucket, Prefix: prefix, Log: log}
	cfg.Endpoint, _ = cmd.Flags().GetString("s3-endpoint")
	cfg.Region, _ = cmd.Flags().GetString("s3-region")
	cfg.TLS, _ = cmd.Flags().GetBool("s3-tls")
	cfg.PathStyle, _ = cmd.Flags().GetBool("s3-path-style")
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("an S3 store needs --s3-endpoint and a bucket")
	}
	cfg.AccessKey, cfg.SecretKey = os.Getenv("HEALTHD_S3_ACCESS_KEY"), os.Getenv("HEALTHD_S3_SECRET_KEY")
	if file, _ := cmd.Flags().GetString("s3-credentials-file"); file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--s3-credentials-file: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 2 {
			return nil, fmt.Errorf("--s3-credentials-file %s: want the access key and the secret key on two lines", file)
		}
		cfg.AccessKey, cfg.SecretKey = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("an S3 store needs credentials: --s3-credentials-file, or HEALTHD_S3_ACCESS_KEY and HEALTHD_S3_SECRET_KEY")
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	return vault.NewS3Store(ctx, cfg)
}
