package cmd

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/healthd-chain/healthd/vault"
)

func vaultMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate --from DIR|s3://BUCKET/PREFIX --to DIR|s3://BUCKET/PREFIX",
		Short: "Copy every blob from one vault store to another (disk to S3, S3 to disk, …), verifying each hash",
		Long: "Copies every blob of the source store that the destination lacks, keeping its uploader and upload time. " +
			"The destination hashes every blob before it becomes visible, so a blob damaged in the source is reported and " +
			"not copied. It is resumable: blobs already in the destination with the same uploader are skipped and an " +
			"interrupted copy leaves nothing, so run it again until it reports nothing to copy. A blob the destination " +
			"already holds under another uploader (someone uploaded the same ciphertext there under their own key) or " +
			"with another size is a conflict: its vault would refuse the record's readers. Conflicts are listed and make " +
			"the command fail; --repair-conflicts gives such a blob the source's uploader and upload time, but only where " +
			"the chain (--chain-grpc) names the source's uploader as the author of the record with that hash. A disk " +
			"source is read without its lock, so the vault that serves it may keep running: migrate, stop that vault, " +
			"migrate again (the uploads of the meantime), then start the vaults on the destination. A disk destination " +
			"must not be in use. Quarantined uploads are not copied. --dry-run reports what would be copied and the " +
			"conflicts (with --repair-conflicts, which it would repair), and writes nothing; it fails on conflicts too, " +
			"so it doubles as a check of two stores. S3 stores are reached with the --s3-* flags; " +
			"credentials come from --s3-credentials-file or HEALTHD_S3_ACCESS_KEY / HEALTHD_S3_SECRET_KEY.",
		Example: "healthd vault migrate --from ~/.healthd/vault --to s3://vault/hospital-a/ --s3-endpoint s3.hospital.example:443\n" +
			"healthd vault migrate --from s3://vault/hospital-a/ --to /srv/vault-restore --s3-endpoint s3.hospital.example:443 --dry-run\n" +
			"healthd vault migrate --from ~/.healthd/vault --to /srv/vault-new --repair-conflicts --chain-grpc 127.0.0.1:9090",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fromSpec, _ := cmd.Flags().GetString("from")
			toSpec, _ := cmd.Flags().GetString("to")
			if fromSpec == "" || toSpec == "" {
				return errors.New("name both stores: --from and --to (a directory, or s3://BUCKET/PREFIX)")
			}
			if fromSpec == toSpec {
				return errors.New("--from and --to name the same store")
			}
			dryRun, _ := cmd.Flags().GetBool("dry-run")
			workers, _ := cmd.Flags().GetInt("workers")
			if workers < 1 || workers > 256 {
				return fmt.Errorf("--workers %d: want 1 to 256", workers)
			}
			from, closeFrom, err := openMigrateStore(cmd, fromSpec, false)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer closeFrom()
			to, closeTo, err := openMigrateStore(cmd, toSpec, !dryRun)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			defer closeTo()
			opts := vault.MigrateOptions{DryRun: dryRun, Workers: workers}
			if opts.RepairConflicts, _ = cmd.Flags().GetBool("repair-conflicts"); opts.RepairConflicts {
				grpcAddr, _ := cmd.Flags().GetString("chain-grpc")
				chain, err := vault.DialChain(grpcAddr)
				if err != nil {
					return fmt.Errorf("--chain-grpc: %w", err)
				}
				defer chain.Close()
				opts.Chain = chain
			}
			progress := bulkProgressUnit(cmd, "blobs")
			opts.Progress = func(done, total int) { progress("copy", done, total) }
			rep, err := vault.Migrate(cmd.Context(), from, to, opts)
			copied, repaired := "copied", "repaired"
			if dryRun {
				copied, repaired = "to copy", "to repair"
			}
			fixed := 0
			for _, c := range rep.Conflicts {
				if c.Outcome == vault.ConflictRepaired {
					fixed++
				}
			}
			cmd.Printf("%s: %d blobs, %d bytes; %s %d (%d bytes); already in %s: %d; conflicts: %d, %s %d; failed: %d\n",
				from.Name(), rep.Blobs, rep.Bytes, copied, rep.Copied, rep.CopiedBytes, to.Name(), rep.Present,
				len(rep.Conflicts), repaired, fixed, len(rep.Failed))
			for _, h := range slices.Sorted(maps.Keys(rep.Conflicts)) {
				cmd.PrintErrf("  %s: conflict: %s\n", h, rep.Conflicts[h])
			}
			for _, h := range slices.Sorted(maps.Keys(rep.Failed)) {
				cmd.PrintErrf("  %s: %s\n", h, rep.Failed[h])
			}
			return err
		},
	}
	cmd.Flags().String("from", "", "the source store: a vault's data directory, or s3://BUCKET/PREFIX")
	cmd.Flags().String("to", "", "the destination store: a directory, or s3://BUCKET/PREFIX (the bucket must exist)")
	cmd.Flags().Bool("dry-run", false, "report what would be copied and the conflicts (with --repair-conflicts: which would be repaired), write nothing")
	cmd.Flags().Int("workers", 8, "blobs copied at once")
	cmd.Flags().Bool("repair-conflicts", false, "give a conflicting destination blob the source's uploader and upload time, "+
		"where the chain names the source's uploader as the author of the record with its hash")
	cmd.Flags().String("chain-grpc", "127.0.0.1:9090", "gRPC address of a node of the chain, asked by --repair-conflicts")
	s3Flags(cmd)
	return cmd
}

func vaultRecountCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recount s3://BUCKET/PREFIX",
		Short: "Set the usage counters of a bucket's uploaders to what they have stored",
		Long: "The vault replicas on a bucket keep each uploader's usage (for --quota) in a counter object, changed by " +
			"compare-and-swap after each upload. A replica killed between storing a blob and counting it leaves that blob " +
			"uncounted. recount lists every blob (one metadata read each) and sets each counter to the sum; a counter that " +
			"a replica changes meanwhile is left alone and reported, so run it when uploads are quiet, and again if it says so. " +
			"It looks at one store: to compare two (blobs missing, or held under another uploader), run " +
			"`healthd vault migrate --dry-run`, which lists both and fails on conflicts.",
		Example: "healthd vault recount s3://vault/hospital-a/ --s3-endpoint s3.hospital.example:443",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rest, ok := strings.CutPrefix(args[0], "s3://")
			bucket, prefix, _ := strings.Cut(rest, "/")
			if !ok || bucket == "" {
				return fmt.Errorf("%s: want s3://BUCKET/PREFIX (a disk store counts at every start)", args[0])
			}
			store, err := openS3(cmd, bucket, prefix, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
			if err != nil {
				return err
			}
			changed, err := store.Recount(cmd.Context())
			cmd.Printf("%s: %d counters corrected\n", store.Name(), changed)
			return err
		},
	}
	s3Flags(cmd)
	return cmd
}

// openMigrateStore opens a store named by spec: s3://BUCKET/PREFIX, or a
// directory (read-only unless writable: a source may still be in use).
func openMigrateStore(cmd *cobra.Command, spec string, writable bool) (vault.Store, func(), error) {
	if rest, ok := strings.CutPrefix(spec, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, nil, fmt.Errorf("%s: want s3://BUCKET/PREFIX", spec)
		}
		store, err := openS3(cmd, bucket, prefix, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
		return store, func() {}, err
	}
	if strings.Contains(spec, "://") {
		return nil, nil, fmt.Errorf("%s: want a directory or s3://BUCKET/PREFIX", spec)
	}
	if !writable {
		store, err := vault.OpenDiskStoreReadOnly(spec)
		return store, func() {}, err
	}
	store, err := vault.NewDiskStore(spec)
	if err != nil {
		return nil, nil, err
	}
	return store, func() { _ = store.Close() }, nil
}
