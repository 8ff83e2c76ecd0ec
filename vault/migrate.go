package vault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// MigrateOptions configures Migrate.
type MigrateOptions struct {
	// DryRun lists what would be copied and copies nothing.
	DryRun bool
	// Workers is how many blobs are copied at once (default 8).
	Workers int
	// Progress, if set, is told how many of the source's blobs are done.
	Progress func(done, total int)
}

// MigrateReport says what Migrate did (or, for a dry run, would do).
type MigrateReport struct {
	Blobs   int   // blobs in the source
	Bytes   int64 // their bytes
	Copied  int   // copied now (or, dry run: to copy)
	Present int   // already in the destination
	// CopiedBytes is the bytes of Copied.
	CopiedBytes int64
	// Failed lists the blobs that could not be copied, with why (a source
	// blob that no longer hashes to its name is one).
	Failed map[string]string
}

// Migrate copies every blob of from that to lacks, keeping its uploader and
// upload time. Each copy is verified against its hash by the destination
// before it becomes visible (both stores hash what they store), so a blob
// damaged in the source is reported, never copied. Migrate is resumable: a
// blob already in the destination is skipped, and an interrupted copy leaves
// nothing there, so running it again finishes the job. Usage counters of the
// destination count what is copied. Quarantined uploads are not copied.
func Migrate(ctx context.Context, from, to Store, opts MigrateOptions) (MigrateReport, error) {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	var blobs []BlobInfo
	if err := from.List(ctx, func(b BlobInfo) error {
		blobs = append(blobs, b)
		return nil
	}); err != nil {
		return MigrateReport{}, fmt.Errorf("list %s: %w", from.Name(), err)
	}
	rep := MigrateReport{Blobs: len(blobs), Failed: map[string]string{}}
	for _, b := range blobs {
		rep.Bytes += b.Size
	}
	var (
		mu    sync.Mutex
		done  atomic.Int64
		fatal error
		wg    sync.WaitGroup
	)
	work := make(chan BlobInfo)
	for range opts.Workers {
		wg.Go(func() {
			for b := range work {
				copied, err := migrateOne(ctx, from, to, b, opts.DryRun)
				mu.Lock()
				switch {
				case errors.Is(err, ErrUnavailable) && fatal == nil:
					fatal = err // a store is down: stop, a rerun resumes
				case err != nil:
					rep.Failed[b.Hash] = err.Error()
				case copied:
					rep.Copied++
					rep.CopiedBytes += b.Size
				default:
					rep.Present++
				}
				mu.Unlock()
				if opts.Progress != nil {
					opts.Progress(int(done.Add(1)), len(blobs))
				}
			}
		})
	}
	for _, b := range blobs {
		mu.Lock()
		stop := fatal != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		work <- b
	}
	close(work)
	wg.Wait()
	if fatal != nil {
		return rep, fatal
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%d of %d blobs could not be copied", len(rep.Failed), len(blobs))
	}
	return rep, nil
}

// migrateOne copies blob b unless the destination has it; it reports whether
// it copied (or, dry run, would copy).
func migrateOne(ctx context.Context, from, to Store, b BlobInfo, dryRun bool) (bool, error) {
	h, err := ParseHash(b.Hash)
	if err != nil {
		return false, err
	}
	have, err := to.Stat(ctx, h)
	switch {
	case err == nil && have.Size == b.Size:
		return false, nil
	case err == nil:
		return false, fmt.Errorf("the destination's blob has %d bytes, the source's %d", have.Size, b.Size)
	case !errors.Is(err, ErrNotFound):
		return false, err
	case dryRun:
		return true, nil
	}
	rc, info, err := from.Get(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return false, errors.New("deleted from the source during the migration")
	} else if err != nil {
		return false, err
	}
	defer rc.Close()
	_, created, err := to.PutAt(ctx, h, rc, info.Size, info.Uploader, info.UploadedAt)
	switch {
	case errors.Is(err, ErrHashMismatch), errors.Is(err, ErrTooLarge):
		return false, fmt.Errorf("the source's copy is damaged (it does not hash to its name, or is longer than its size): %w", err)
	case err != nil:
		return false, err
	}
	return created, nil
}
