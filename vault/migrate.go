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
	// DryRun lists what would be copied (and, with RepairConflicts, repaired)
	// and writes nothing.
	DryRun bool
	// Workers is how many blobs are copied at once (default 8).
	Workers int
	// Progress, if set, is told how many of the source's blobs are done.
	Progress func(done, total int)
	// RepairConflicts gives a conflicting destination blob the source's
	// uploader and upload time, but only once Chain says that the source's
	// uploader authored the record with the blob's hash. Without it a
	// conflict is reported and left.
	RepairConflicts bool
	// Chain is asked who committed a conflicting blob's record; it is
	// needed with RepairConflicts.
	Chain AuthorChain
}

// AuthorChain is what a repair asks the chain (a Chain, such as GRPCChain,
// answers it). The vault serves a blob only to readers of the record that
// its uploader committed, so the uploader a repair may write is the one the
// chain names as that record's author.
type AuthorChain interface {
	// BlobStatus reports whether the record with content hash h was
	// committed by uploader, and whether it is erased.
	BlobStatus(ctx context.Context, h Hash, uploader string) (committed, erased bool, err error)
}

// MigrateReport says what Migrate did (or, for a dry run, would do).
type MigrateReport struct {
	Blobs   int   // blobs in the source
	Bytes   int64 // their bytes
	Copied  int   // copied now (or, dry run: to copy)
	Present int   // already in the destination, with the source's uploader
	// CopiedBytes is the bytes of Copied.
	CopiedBytes int64
	// Failed lists the blobs that could not be copied, with why (a source
	// blob that no longer hashes to its name is one).
	Failed map[string]string
	// Conflicts lists, by hash, the blobs the destination already holds
	// under another uploader than the source's, or with another size: they
	// are not Present, since the destination's vault would refuse their
	// record's readers.
	Conflicts map[string]Conflict
}

// Unresolved counts the conflicts that leave the destination unlike the
// source: all but the repaired ones (dry run: to repair) and those whose
// destination the chain confirmed.
func (r MigrateReport) Unresolved() int {
	n := 0
	for _, c := range r.Conflicts {
		if !c.Outcome.Resolved() {
			n++
		}
	}
	return n
}

// Conflict is one blob that the destination holds under other metadata than
// the source: typically someone uploaded the same ciphertext there, under
// their own key, before the migration reached it.
type Conflict struct {
	Source, Destination BlobInfo
	Outcome             ConflictOutcome
	// Err is why the chain could not be asked, or the repair failed.
	Err error
}

// String says, for an operator, who holds the blob on each side and what was
// done: addresses and sizes, never content.
func (c Conflict) String() string {
	var s string
	if c.Source.Size != c.Destination.Size {
		s = fmt.Sprintf("the source's copy has %d bytes, the destination's %d", c.Source.Size, c.Destination.Size)
	} else {
		s = fmt.Sprintf("uploaded by %s in the source, by %s in the destination", c.Source.Uploader, c.Destination.Uploader)
	}
	s += ": " + c.Outcome.String()
	if c.Err != nil {
		s += ": " + c.Err.Error()
	}
	return s
}

// ConflictOutcome is what Migrate did about a Conflict.
type ConflictOutcome int

const (
	// ConflictLeft: no repair was asked; the destination is unchanged.
	ConflictLeft ConflictOutcome = iota
	// ConflictRepaired: the chain names the source's uploader as the
	// record's author, and the destination now carries the source's
	// uploader and upload time (dry run: would).
	ConflictRepaired
	// ConflictDestinationRight: the chain names the destination's uploader
	// as the record's author; the destination is left as it is, and it is
	// the source's copy that its vault would refuse to serve.
	ConflictDestinationRight
	// ConflictNoAuthor: neither uploader committed a record with this hash
	// (none did, or a third account): not repaired.
	ConflictNoAuthor
	// ConflictChainUnavailable: the chain could not be asked; not repaired
	// (a repair never writes an uploader the chain has not confirmed).
	ConflictChainUnavailable
	// ConflictSizeDiffers: the two copies have different sizes, so one of
	// them is not this blob (both stores hash what they store): new
	// metadata cannot fix that, nothing is repaired.
	ConflictSizeDiffers
	// ConflictRepairFailed: the chain confirmed the source's uploader but
	// the destination could not be changed (Err says why).
	ConflictRepairFailed
)

// Resolved reports whether the destination needs nothing more for this blob.
func (o ConflictOutcome) Resolved() bool {
	return o == ConflictRepaired || o == ConflictDestinationRight
}

func (o ConflictOutcome) String() string {
	switch o {
	case ConflictLeft:
		return "left as it is (--repair-conflicts asks the chain who authored the record)"
	case ConflictRepaired:
		return "repaired: the chain names the source's uploader as the record's author"
	case ConflictDestinationRight:
		return "kept: the chain names the destination's uploader as the record's author (it is the source's copy that is wrong)"
	case ConflictNoAuthor:
		return "not repaired: the chain has no record with this hash authored by either uploader"
	case ConflictChainUnavailable:
		return "not repaired: cannot ask the chain"
	case ConflictSizeDiffers:
		return "not repairable: one copy is not this blob"
	case ConflictRepairFailed:
		return "repair failed"
	}
	return fmt.Sprintf("outcome %d", int(o))
}

// IncompleteError is Migrate's error when it finished but left blobs that
// are not in the destination as in the source.
type IncompleteError struct {
	Blobs      int // in the source
	Failed     int // not copied
	Unresolved int // conflicts left (MigrateReport.Unresolved)
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("of %d blobs, %d could not be copied and %d are held by the destination under another uploader or size",
		e.Blobs, e.Failed, e.Unresolved)
}

// Migrate copies every blob of from that to lacks, keeping its uploader and
// upload time. Each copy is verified against its hash by the destination
// before it becomes visible (both stores hash what they store), so a blob
// damaged in the source is reported, never copied. Migrate is resumable: a
// blob already in the destination with the same uploader and size is
// skipped, and an interrupted copy leaves nothing there, so running it again
// finishes the job. A blob the destination holds under another uploader (or
// size) is a conflict: reported, and repaired only with RepairConflicts and
// the chain's confirmation. Usage counters of the destination count what is
// copied. Quarantined uploads are not copied. It returns an *IncompleteError
// if blobs failed or conflicts are left.
func Migrate(ctx context.Context, from, to Store, opts MigrateOptions) (MigrateReport, error) {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.RepairConflicts && opts.Chain == nil {
		return MigrateReport{}, errors.New("a repair of conflicts needs the chain to ask")
	}
	var blobs []BlobInfo
	if err := from.List(ctx, func(b BlobInfo) error {
		blobs = append(blobs, b)
		return nil
	}); err != nil {
		return MigrateReport{}, fmt.Errorf("list %s: %w", from.Name(), err)
	}
	rep := MigrateReport{Blobs: len(blobs), Failed: map[string]string{}, Conflicts: map[string]Conflict{}}
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
				res, err := migrateOne(ctx, from, to, b, opts)
				mu.Lock()
				switch {
				case errors.Is(err, ErrUnavailable) && fatal == nil:
					fatal = err // a store is down: stop, a rerun resumes
				case err != nil:
					rep.Failed[b.Hash] = err.Error()
				case res.conflict != nil:
					rep.Conflicts[b.Hash] = *res.conflict
				case res.copied:
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
	if unresolved := rep.Unresolved(); len(rep.Failed) > 0 || unresolved > 0 {
		return rep, &IncompleteError{Blobs: len(blobs), Failed: len(rep.Failed), Unresolved: unresolved}
	}
	return rep, nil
}

// migrated is what became of one blob: copied (or, dry run, to copy), a
// conflict, or else already present.
type migrated struct {
	copied   bool
	conflict *Conflict
}

// migrateOne copies blob b unless the destination has it, and judges what
// the destination has.
func migrateOne(ctx context.Context, from, to Store, b BlobInfo, opts MigrateOptions) (migrated, error) {
	h, err := ParseHash(b.Hash)
	if err != nil {
		return migrated{}, err
	}
	have, err := to.Stat(ctx, h)
	switch {
	case err == nil:
		return judge(ctx, to, h, b, have, opts)
	case !errors.Is(err, ErrNotFound):
		return migrated{}, err
	case opts.DryRun:
		return migrated{copied: true}, nil
	}
	rc, info, err := from.Get(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return migrated{}, errors.New("deleted from the source during the migration")
	} else if err != nil {
		return migrated{}, err
	}
	defer rc.Close()
	have, created, err := to.PutAt(ctx, h, rc, info.Size, info.Uploader, info.UploadedAt)
	switch {
	case errors.Is(err, ErrHashMismatch), errors.Is(err, ErrTooLarge):
		return migrated{}, fmt.Errorf("the source's copy is damaged (it does not hash to its name, or is longer than its size): %w", err)
	case err != nil:
		return migrated{}, err
	case !created: // an upload to the destination got there first
		return judge(ctx, to, h, info, have, opts)
	}
	return migrated{copied: true}, nil
}

// judge compares the destination's blob have with the source's src: the same
// uploader and size is present; anything else is a conflict, repaired if
// asked and the chain allows.
func judge(ctx context.Context, to Store, h Hash, src, have BlobInfo, opts MigrateOptions) (migrated, error) {
	if have.Uploader == src.Uploader && have.Size == src.Size {
		return migrated{}, nil
	}
	c := &Conflict{Source: src, Destination: have}
	if err := resolve(ctx, to, h, c, opts); err != nil {
		return migrated{}, err
	}
	return migrated{conflict: c}, nil
}

// resolve decides conflict c and, if the chain names the source's uploader as
// the author of the record with hash h, repairs the destination. It fails
// closed: an uploader the chain has not confirmed is never written. Only a
// destination store that is down is returned as an error (the migration
// stops, a rerun resumes).
func resolve(ctx context.Context, to Store, h Hash, c *Conflict, opts MigrateOptions) error {
	switch {
	case c.Source.Size != c.Destination.Size:
		c.Outcome = ConflictSizeDiffers
		return nil
	case !opts.RepairConflicts:
		c.Outcome = ConflictLeft
		return nil
	}
	source, _, err := opts.Chain.BlobStatus(ctx, h, c.Source.Uploader)
	if err != nil {
		c.Outcome, c.Err = ConflictChainUnavailable, err
		return nil
	}
	if !source {
		dest, _, err := opts.Chain.BlobStatus(ctx, h, c.Destination.Uploader)
		switch {
		case err != nil:
			c.Outcome, c.Err = ConflictChainUnavailable, err
		case dest:
			c.Outcome = ConflictDestinationRight
		default:
			c.Outcome = ConflictNoAuthor
		}
		return nil
	}
	if opts.DryRun {
		c.Outcome = ConflictRepaired
		return nil
	}
	// An erased record's blob is repaired too: under its author's name the
	// destination's sweep deletes it at once, where under a stranger's it
	// would sit in quarantine for the retention period.
	_, err = to.ReplaceUploader(ctx, h, c.Destination.Uploader, c.Source.Uploader, c.Source.UploadedAt)
	switch {
	case errors.Is(err, ErrUnavailable):
		return err
	case err != nil:
		c.Outcome, c.Err = ConflictRepairFailed, err
	default:
		c.Outcome = ConflictRepaired
	}
	return nil
}
