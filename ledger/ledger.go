package ledger

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/internal/boltscrub"
)

// SchemaVersion is the layout of the file this package writes (see the package
// documentation). Open migrates a file with an older schema in place, in one
// transaction (a crash leaves the old file as it was), and refuses one with a
// newer schema.
const SchemaVersion = 5

// DefaultTimeout is how long Open waits for the file lock when Options.Timeout is 0.
const DefaultTimeout = time.Second

// Errors returned by the ledger. Test for them with errors.Is; the error text adds
// what was being done and with which file, sale or version.
var (
	// ErrConflict is returned when something already recorded is sent again with
	// different content: a sale id with another request digest, or a ruleset
	// version with other bytes or another signature.
	ErrConflict = errors.New("already recorded with different content")

	// ErrNoRuleset is returned by Ruleset when no ruleset is active, and by
	// ActivateRuleset for a version that is not stored.
	ErrNoRuleset = errors.New("no ruleset stored")

	// ErrOldRuleset is returned by PutRuleset and ActivateRuleset for a version
	// lower than the active one.
	ErrOldRuleset = errors.New("ruleset version is older than the active one")

	// ErrBadRuleset is returned by PutRuleset, ActivateRuleset and Ruleset for
	// a ruleset that fails its check: its stored bytes do not match their
	// SHA-256, or Options.CheckRuleset refuses it (HQ's signature does not
	// verify). Rulesets reports it in CachedRuleset.Err, Verify as a problem.
	ErrBadRuleset = errors.New("ruleset fails its check")

	// ErrTerminalMismatch is returned by Open when the file belongs to another
	// terminal than Options.Terminal.
	ErrTerminalMismatch = errors.New("ledger belongs to another terminal")

	// ErrLocked is returned by Open when another process (usually a second tilld)
	// holds the file and did not release it within Options.Timeout.
	ErrLocked = errors.New("ledger file is locked by another process")

	// ErrCorrupt is returned by Open when the file is not a readable ledger: bad or
	// truncated bbolt pages, missing buckets, or bookkeeping that disagrees with the
	// events. The ledger is never silently recreated empty.
	ErrCorrupt = errors.New("file is corrupt or truncated")

	// ErrAckAhead is returned by Ack for a seq beyond the last recorded event, and
	// by PutSnapshot for a snapshot that claims such a seq.
	ErrAckAhead = errors.New("acknowledged seq was never recorded")

	// ErrStaleSnapshot is returned by PutSnapshot for a snapshot older than what
	// the ledger already holds for the card: a newer snapshot, or events pruned
	// beyond the snapshot's seq. Nothing is changed; the caller may ignore it.
	ErrStaleSnapshot = errors.New("snapshot is older than the ledger's view")
	// ErrSnapshotPruned comes with ErrStaleSnapshot when the snapshot is older
	// than the events pruned here (HQ's copy is behind what it acknowledged):
	// the card's view stays as it is, and HQ's newer account comes later.
	ErrSnapshotPruned = errors.New("snapshot is older than the events pruned here")

	// ErrOtherChain is returned by PutSnapshot for a snapshot HQ took of
	// another chain than this ledger's (it was restored from a backup and has
	// not synced since): HQ does not hold this ledger's events the snapshot
	// claims. Nothing is changed; the caller may ignore it.
	ErrOtherChain = errors.New("snapshot is of another chain of this terminal")

	// ErrStorage is returned when a write did not reach the disk: an I/O error or
	// a full file system (then ErrDiskFull holds too). Nothing of the failed
	// operation is stored, the ledger stays usable, and the same call succeeds
	// once the cause is gone. Reads keep working meanwhile.
	ErrStorage = errors.New("the ledger could not write to its file")

	// ErrDiskFull is the ErrStorage of a full file system (ENOSPC, EDQUOT).
	ErrDiskFull = errors.New("the disk is full")

	// ErrReadOnly is returned by every write method of a ledger opened with
	// Options.ReadOnly.
	ErrReadOnly = errors.New("ledger is open read-only")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("ledger is closed")
)

// Options configure Open. The zero value is usable once Terminal is set for a new
// file.
type Options struct {
	// Terminal is the id of the terminal that owns the file. It is required when
	// the file is created and must match the stored id afterwards; empty on a later
	// Open means "whichever terminal the file belongs to" (for tools such as
	// tillctl ledger verify).
	Terminal string

	// Now is the clock that stamps events and decides which events are old
	// enough to prune. Default time.Now.
	Now func() time.Time

	// Logger receives the ledger's logs. Default: discard. Card numbers are
	// logged masked to their last four characters.
	Logger *slog.Logger

	// NoSync skips fsync after each commit. UNSAFE: a power cut can lose or
	// corrupt recorded sales. For tests and benchmarks only.
	NoSync bool

	// Timeout bounds the wait for the file lock, so a second tilld on the same
	// file fails with ErrLocked instead of hanging. Default DefaultTimeout;
	// negative waits forever.
	Timeout time.Duration

	// Retain is how long events HQ acknowledged are kept. Each Ack then prunes
	// up to PruneBatch acknowledged events older than Retain (see Prune). Zero,
	// the default, keeps every event forever.
	Retain time.Duration

	// ReadOnly opens an existing file without writing to it, sharing it with
	// other readers but not with a writer (a running tilld makes Open fail with
	// ErrLocked). Write methods return ErrReadOnly. A file with an older schema
	// cannot be opened read-only: it must be migrated by a read-write Open first.
	ReadOnly bool

	// CheckRuleset checks a cached ruleset beyond its stored SHA-256, which
	// anyone who can write the file can rewrite: tilld checks HQ's Ed25519
	// signature and the version the bytes name (till.RulesCheck). The ledger
	// calls it whenever a cached ruleset is read (Rulesets, Ruleset), stored,
	// replaced or activated, and in Verify; it stores no ruleset it refuses. nil
	// checks the SHA-256 only.
	CheckRuleset func(version int64, raw, signature []byte) error
}

// Ledger is an open ledger file. It is safe for concurrent use.
type Ledger struct {
	db       *bolt.DB
	path     string
	terminal string
	now      func() time.Time
	log      *slog.Logger
	retain   time.Duration
	readOnly bool
	// checkRuleset is Options.CheckRuleset.
	checkRuleset func(version int64, raw, signature []byte) error

	commits committer
	// failing is set while commits fail, so that a failure and its recovery are
	// logged once each.
	failing atomic.Bool
	// beforeCommit, when set (by tests), runs after a write transaction's writes
	// and before its commit; an error fails the commit as an I/O error would.
	beforeCommit func() error

	// gate is held shared by every transaction and exclusively while freed
	// pages are zeroed (see ForgetHolders), which no reader may see happen.
	gate sync.RWMutex

	// txMu guards cur, journal and closed; it is taken after gate.
	txMu sync.Mutex
	// cur is the write transaction holding the sales journaled since the last
	// checkpoint (see journal.go), nil when none is open. Readers read
	// through it.
	cur     *bolt.Tx
	journal *journal // nil when read-only
	// recordBuf is the payload buffer of the last journal record, reused.
	recordBuf []byte
	closed    bool
	// broken, when set, is why the journal could not be read back after a
	// failure: writes are refused until the ledger is opened again.
	broken error
	// checkpointing is set while a background checkpoint is on its way;
	// background waits for it.
	checkpointing atomic.Bool
	background    sync.WaitGroup

	// riders are writes made in cur that are in neither the journal nor the
	// file yet (acknowledgements, HQ's snapshots: see alongNext), at most one
	// per bucket and key, in the order made. The next group commit journals
	// them ahead of its sales; a checkpoint commits them. Under txMu.
	riders []put
	// riderCheckpoint is set while a goroutine waits riderWait to checkpoint
	// riders no sale took along. Under txMu.
	riderCheckpoint bool
	// feedHeld is set when riders were dropped (snapshots among them):
	// SetFeedPosition then keeps no position past them. Under txMu.
	feedHeld bool
	// stop is closed by Close: a waiting rider checkpoint gives up (Close
	// checkpoints).
	stop chan struct{}

	// pending keeps what offline sales' limits found in the outbox (see
	// pending.go).
	pending pendingSums

	// holdersChanged counts the holders registered or changed here, each
	// once its commit is in the file; noPendingHolders is 1 + the count as
	// of which PendingHolders last found none pending (0: not since Open).
	holdersChanged   atomic.Uint64
	noPendingHolders atomic.Uint64
}

// Bucket names and meta keys: the on-disk format, see the package documentation.
var (
	bucketMeta     = []byte("meta")
	bucketEvents   = []byte("events")
	bucketEffects  = []byte("effects")
	bucketSales    = []byte("sales")
	bucketAccounts = []byte("accounts")
	bucketBases    = []byte("bases")
	bucketRulesets = []byte("rulesets")
	bucketHolders  = []byte("holders")
	// bucketReturns is made by the first refund (put.do): a file without it
	// has none, and schema 3 files from before refunds open as they are.
	bucketReturns = []byte("returns")
	// bucketAsked is made by the first feedback (put.do), like returns: the
	// time of each card's latest NPS answer recorded here.
	bucketAsked = []byte("asked")

	allBuckets = [][]byte{bucketMeta, bucketEvents, bucketEffects, bucketSales, bucketAccounts, bucketBases, bucketRulesets, bucketHolders}

	keySchema    = []byte("schema")
	keyTerminal  = []byte("terminal")
	keyLastSeq   = []byte("last_seq")
	keyLastHash  = []byte("last_hash")
	keyAcked     = []byte("acked")
	keyAnchorSeq = []byte("anchor_seq")
	// keyReturnsKept is the last seq whose sale's returns count may have gone
	// with it when it was pruned (schema 4 and before dropped them): the
	// returns of a sale after it are counted here even once it is pruned.
	keyReturnsKept = []byte("returns_kept")
	keyAnchorHash  = []byte("anchor_hash")
	keyActiveRules = []byte("active_rules")
)

// Log attribute keys, in one place so every line of the package agrees.
const (
	logPath     = "path"
	logTerminal = "terminal"
	logSeq      = "seq"
	logAcked    = "acked"
	logSaleID   = "sale_id"
	logCard     = "card"
	logVersion  = "version"
	logPrevious = "previous"
	logCreated  = "created"
	logProblems = "problems"
	logFirst    = "first"
	logErr      = "err"
	logSchema   = "schema"
	logPruned   = "pruned"
	logAnchor   = "anchor"
	logBatch    = "batch"
)

const maxTerminalLen = 64

// Open opens the ledger file at path, creating it (and nothing else: the
// directory must exist) when it does not exist. A file that exists but is not a
// readable ledger fails with ErrCorrupt; it is never replaced by an empty one. A
// file with an older schema is migrated (see SchemaVersion).
func Open(path string, opts Options) (*Ledger, error) {
	if opts.Terminal != "" {
		if err := checkTerminal(opts.Terminal); err != nil {
			return nil, fmt.Errorf("open ledger %s: %w", path, err)
		}
	}
	existed, err := checkExisting(path)
	if err != nil {
		return nil, openError(path, 0, err)
	}
	switch {
	case !existed && opts.ReadOnly:
		return nil, fmt.Errorf("open ledger %s read-only: %w", path, fs.ErrNotExist)
	case !existed && opts.Terminal == "":
		return nil, fmt.Errorf("open ledger %s: the file does not exist and no terminal id was given to create it", path)
	case opts.Retain < 0:
		return nil, fmt.Errorf("open ledger %s: negative retention %s", path, opts.Retain)
	}

	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0 // bbolt waits forever
	}
	l := &Ledger{path: path, now: opts.Now, log: opts.Logger, retain: opts.Retain, readOnly: opts.ReadOnly, checkRuleset: opts.CheckRuleset,
		stop: make(chan struct{})}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.log = l.log.With(logPath, path)

	if existed {
		// Look before writing: a read-only open maps the file without touching its
		// data pages, so a truncated file is found here instead of faulting later.
		if err := preflight(path, timeout); err != nil {
			return nil, openError(path, timeout, err)
		}
	}
	db, file, err := openBolt(path, &bolt.Options{Timeout: timeout, NoSync: opts.NoSync, ReadOnly: opts.ReadOnly})
	if err != nil {
		if !existed && !errors.Is(err, berrors.ErrTimeout) {
			// bbolt may have created the file before it failed (a full disk): an
			// empty file left behind would be refused as corrupt next time. (On
			// a timeout, another process created it and holds it.)
			_ = os.Remove(path)
		}
		return nil, openError(path, timeout, boltOpenError(err, existed))
	}
	if err := sameFile(path, file); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	l.db = db
	m, err := l.init(opts.Terminal)
	if err == nil {
		m, err = l.openJournal(m, opts.NoSync)
	}
	if err == nil && !l.readOnly {
		l.finishForget()
	}
	if err != nil {
		l.abandon()
		if !existed {
			// Nothing of ours is in a file this call created; do not leave it behind.
			_ = os.Remove(path)
		}
		return nil, openError(path, timeout, err)
	}
	if l.readOnly && m.journaled {
		// Sales a crash left in the journal: a read-write open moves them into
		// the file (what starting tilld would do), then the file is read as asked.
		_ = db.Close()
		rw := opts
		rw.ReadOnly = false
		w, err := Open(path, rw)
		if err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return Open(path, opts)
	}
	l.log = l.log.With(logTerminal, l.terminal)
	l.log.Info("ledger opened", logSeq, m.lastSeq, logAcked, m.acked, logAnchor, m.anchorSeq, logCreated, !existed)
	return l, nil
}

// abandon releases what a failed Open holds: the write transaction a journal
// replay left open (bbolt's Close would wait for it forever), the journal and
// the file.
func (l *Ledger) abandon() {
	if l.cur != nil {
		_ = l.cur.Rollback()
		l.cur = nil
	}
	if l.journal != nil {
		_ = l.journal.close()
		l.journal = nil
	}
	_ = l.db.Close()
}

// checkExisting reports whether path exists, and refuses what cannot be a ledger
// before bbolt sees it: bbolt would turn an empty file into a new database.
func checkExisting(path string) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.Mode().IsRegular():
		return true, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	case fi.Size() == 0:
		return true, fmt.Errorf("%w: the file is empty", ErrCorrupt)
	}
	return true, nil
}

// recoverHint tells an operator what to do about a file that is not a readable
// ledger: tilld prints it when it refuses to start.
func recoverHint(path string) string {
	return fmt.Sprintf("Keep this file: it may hold sales HQ does not have yet. `tillctl ledger verify --file %s` shows what is wrong; "+
		"then move the file aside, restore the last backup or start with an empty ledger, and send the damaged file to support", path)
}

// sameFile checks that path still names the file bbolt opened and locked. A
// compaction renames a new file over the old one while holding the old one's
// lock: a tilld that opened the old file just before and got its lock
// afterwards would otherwise record sales into a file no path leads to.
func sameFile(path string, f *os.File) error {
	if f == nil {
		return nil
	}
	held, err := f.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(path)
	if err == nil && os.SameFile(held, now) {
		return nil
	}
	return errors.New("the file was replaced while waiting for its lock (a compaction?); open it again")
}

// openBolt opens the bbolt file, turning a panic or a memory fault inside bbolt
// (bbolt panics on some damaged pages) into an ErrCorrupt error. After such a
// fault it unlocks and closes the file itself, since bbolt never returned a DB to
// close; the mapping of the file stays until the process exits. It also returns
// the file bbolt opened.
func openBolt(path string, opts *bolt.Options) (db *bolt.DB, file *os.File, err error) {
	opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				// The mapping holds the open file, so closing alone would keep the lock.
				unlock(file)
				_ = file.Close()
			}
			db, file, err = nil, nil, fmt.Errorf("%w: bbolt: %v", ErrCorrupt, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, opts)
	return db, file, err
}

// preflight opens an existing file read-only and checks, before bbolt walks it,
// that it holds every page its meta claims (a file cut short by a failed copy or a
// full disk) and that the pages Open reads are well formed (see pages.go).
func preflight(path string, timeout time.Duration) error {
	db, _, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return boltOpenError(err, true)
	}
	defer db.Close()
	tx, err := db.Begin(false)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < tx.Size() {
		return fmt.Errorf("%w: the file has %d bytes, its pages need %d", ErrCorrupt, fi.Size(), tx.Size())
	}
	snap, err := readSnapshot(f, db.Info().PageSize, uint64(tx.ID()))
	if err == nil {
		err = checkPages(f, db.Info().PageSize, snap, false)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// boltOpenError says which errors of bolt.Open mean the file is not a readable
// database, as opposed to a file that cannot be opened at all (permissions, a
// missing directory, the lock).
func boltOpenError(err error, existed bool) error {
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, ErrCorrupt), errors.Is(err, berrors.ErrTimeout), errors.As(err, &pathErr):
		return err
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch),
		// bbolt reports a file too short for its meta pages with a plain error.
		existed:
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return err
}

// openError wraps an error from Open with the file name and, for a file that
// cannot be read as a ledger, what to do about it.
func openError(path string, timeout time.Duration, err error) error {
	if (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) && !errors.Is(err, ErrDiskFull) {
		err = storageError(err)
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("open ledger %s: %w (is another tilld running? stop it, or leave out --file to ask the running one); waited %s", path, ErrLocked, timeout)
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("open ledger %s: %w. %s", path, err, recoverHint(path))
	}
	return fmt.Errorf("open ledger %s: %w", path, err)
}

// init creates the buckets of a new file, or migrates and checks those of an
// existing one, and settles which terminal the file belongs to. Faults while
// reading a damaged file become ErrCorrupt.
func (l *Ledger) init(terminal string) (m meta, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt: %v", ErrCorrupt, r)
		}
	}()
	var fresh bool
	var schema uint64
	err = l.db.View(func(tx *bolt.Tx) error {
		fresh = tx.Bucket(bucketMeta) == nil
		if fresh {
			// A file bbolt initialised but that never got our buckets (a crash
			// during the very first Open) is new; anything else is not ours.
			return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				return fmt.Errorf("%w: not a tilld ledger (has bucket %q but no %q)", ErrCorrupt, name, bucketMeta)
			})
		}
		var err error
		schema, err = getU64(tx.Bucket(bucketMeta), keySchema)
		if err != nil {
			return fmt.Errorf("%w: meta: %v", ErrCorrupt, err)
		}
		if schema < SchemaVersion {
			return nil // checked after the migration
		}
		return l.checkOpen(tx, terminal, &m)
	})
	if err != nil {
		return m, err
	}
	switch {
	case fresh && l.readOnly:
		return meta{}, fmt.Errorf("%w: the file has no ledger in it yet", ErrCorrupt)
	case fresh:
		return l.create(terminal)
	case schema >= SchemaVersion:
		return m, nil
	case l.readOnly:
		return meta{}, fmt.Errorf("the file has schema %d, this tilld writes %d: open it read-write once (starting tilld does) to migrate it", schema, SchemaVersion)
	}
	// A migration reads every record: check every page before bbolt does.
	if err := l.view(func(tx *bolt.Tx) error { return l.checkAllPages(tx, false) }); err != nil {
		return meta{}, err
	}
	err = l.db.Update(func(tx *bolt.Tx) error {
		if err := migrate(tx, schema); err != nil {
			return err
		}
		return l.checkOpen(tx, terminal, &m)
	})
	if err != nil {
		return meta{}, err
	}
	if schema < 3 {
		// The profiles the migration moved left copies on freed pages.
		if _, err := boltscrub.Free(l.db); err != nil {
			return meta{}, err
		}
	}
	l.log.Info("ledger migrated", logSchema, SchemaVersion, logPrevious, schema)
	return m, nil
}

// checkOpen checks an existing file of the current schema and its terminal.
func (l *Ledger) checkOpen(tx *bolt.Tx, terminal string, m *meta) error {
	var err error
	if *m, err = l.checkMeta(tx); err != nil {
		return err
	}
	if terminal != "" && terminal != m.terminal {
		return fmt.Errorf("%w: the file belongs to terminal %q, this is %q", ErrTerminalMismatch, m.terminal, terminal)
	}
	l.terminal = m.terminal
	return nil
}

// create sets up a new file.
func (l *Ledger) create(terminal string) (meta, error) {
	if terminal == "" {
		return meta{}, errors.New("a terminal id is required to create a ledger")
	}
	l.terminal = terminal
	m := meta{schema: SchemaVersion, terminal: terminal, epoch: event.Epoch{ID: newEpochID()}}
	return m, l.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		for _, kv := range []struct {
			k, v []byte
		}{
			{keySchema, u64(SchemaVersion)},
			{keyTerminal, []byte(terminal)},
			{keyLastSeq, u64(0)},
			{keyLastHash, nil},
			{keyAcked, u64(0)},
			{keyAnchorSeq, u64(0)},
			{keyAnchorHash, nil},
			{keyReturnsKept, u64(0)},
		} {
			if err := meta.Put(kv.k, kv.v); err != nil {
				return fmt.Errorf("write meta %s: %w", kv.k, err)
			}
		}
		return putEpoch(tx, m.epoch)
	})
}

// checkMeta checks that an existing file has every bucket and that its meta agrees
// with its last event, and returns the meta. It costs a few page reads.
func (l *Ledger) checkMeta(tx *bolt.Tx) (meta, error) {
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return meta{}, fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, name)
		}
	}
	m, err := readMeta(tx)
	if err != nil {
		return meta{}, err
	}
	if m.schema > SchemaVersion {
		return meta{}, fmt.Errorf("the file has schema %d, this tilld knows up to %d: it was written by a newer version", m.schema, SchemaVersion)
	}
	if err := checkTerminal(m.terminal); err != nil {
		return meta{}, fmt.Errorf("%w: meta: %v", ErrCorrupt, err)
	}
	// With every event pruned, the chain ends at its anchor.
	lastSeq, lastHash := m.anchorSeq, m.anchorHash
	if k, v := tx.Bucket(bucketEvents).Cursor().Last(); k != nil {
		if lastSeq, err = seqKey(k); err != nil {
			return meta{}, fmt.Errorf("%w: events: %v", ErrCorrupt, err)
		}
		e, err := decodeEvent(v)
		if err != nil {
			return meta{}, fmt.Errorf("%w: event %d: %v", ErrCorrupt, lastSeq, err)
		}
		lastHash = e.Hash
	}
	switch {
	case m.lastSeq != lastSeq:
		return meta{}, fmt.Errorf("%w: meta says the last seq is %d, the last event is %d", ErrCorrupt, m.lastSeq, lastSeq)
	case m.lastHash != lastHash:
		return meta{}, fmt.Errorf("%w: meta's last hash differs from event %d's hash", ErrCorrupt, lastSeq)
	case m.acked > m.lastSeq:
		return meta{}, fmt.Errorf("%w: meta says HQ acknowledged seq %d, beyond the last seq %d", ErrCorrupt, m.acked, m.lastSeq)
	case m.anchorSeq > m.acked:
		return meta{}, fmt.Errorf("%w: meta says events up to %d were pruned, but HQ acknowledged only %d", ErrCorrupt, m.anchorSeq, m.acked)
	}
	return m, nil
}

func checkTerminal(t string) error {
	if t == "" || len(t) > maxTerminalLen {
		return fmt.Errorf("terminal id %q: must be 1 to %d characters", t, maxTerminalLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("terminal id %q: character %d (%q) is not a letter, digit, '.', '_' or '-'", t, i+1, c)
		}
	}
	return nil
}

// Close closes the file, after any commit in progress, moving the journaled
// sales into it. Methods called afterwards return ErrClosed; a second Close
// returns nil.
func (l *Ledger) Close() error {
	l.txMu.Lock()
	already := l.closed
	l.closed = true
	l.txMu.Unlock()
	if already {
		return nil
	}
	close(l.stop)
	l.background.Wait()
	l.gate.RLock()
	defer l.gate.RUnlock()
	l.txMu.Lock()
	defer l.txMu.Unlock()
	var errs []error
	if err := l.checkpoint(); err != nil {
		if !errors.Is(err, ErrStorage) || l.broken != nil {
			errs = append(errs, err)
		} else {
			// The disk refused the checkpoint (full): the sales are durable in
			// the journal, and the next Open moves them into the file.
			l.log.Warn("ledger closed with sales still in its journal: the disk refused to take them into the file; the next start does", logErr, err)
		}
	}
	if l.cur != nil {
		_ = l.cur.Rollback()
		l.cur = nil
	}
	if l.journal != nil {
		errs = append(errs, l.journal.close())
	}
	errs = append(errs, l.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close ledger %s: %w", l.path, err)
	}
	return nil
}

// Terminal is the id of the terminal the file belongs to.
func (l *Ledger) Terminal() string { return l.terminal }

// Path is the file's path as given to Open.
func (l *Ledger) Path() string { return l.path }

// view runs fn in a read transaction, reporting a closed database as ErrClosed
// so that bbolt's errors do not leak to callers. While sales are journaled
// and not yet in the file, fn reads through the transaction that holds them,
// and commits wait for it: fn must be short.
func (l *Ledger) view(fn func(*bolt.Tx) error) error {
	l.gate.RLock()
	defer l.gate.RUnlock()
	l.txMu.Lock()
	if l.cur != nil {
		defer l.txMu.Unlock()
		return fn(l.cur)
	}
	l.txMu.Unlock()
	return closedErr(l.db.View(fn))
}

// viewCommitted runs fn in a read transaction of the file, without waiting
// for a commit in progress. It is for what only update writes (holders,
// rulesets, the active version), which is in the file once update returns;
// the sales journaled since the last checkpoint are not visible to fn.
func (l *Ledger) viewCommitted(fn func(*bolt.Tx) error) error {
	l.gate.RLock()
	defer l.gate.RUnlock()
	return closedErr(l.db.View(fn))
}

// viewFile is view for what reads the file itself (its pages) and for long:
// it moves the journaled sales into the file first, then runs fn in a read
// transaction of the file, with cur nil, holding up no commit. When they
// cannot be moved (a full disk), the file is whole as of the last checkpoint
// and cur is the transaction that holds the sales since, safe in the journal;
// commits wait for fn then.
func (l *Ledger) viewFile(fn func(file, cur *bolt.Tx) error) error {
	l.gate.RLock()
	defer l.gate.RUnlock()
	l.txMu.Lock()
	if err := l.checkpoint(); err != nil {
		defer l.txMu.Unlock()
		if !errors.Is(err, ErrStorage) {
			return err
		}
		return closedErr(l.db.View(func(tx *bolt.Tx) error { return fn(tx, l.cur) }))
	}
	l.txMu.Unlock()
	return closedErr(l.db.View(func(tx *bolt.Tx) error { return fn(tx, nil) }))
}

// update runs fn in a write transaction and commits it, together with the
// journaled sales (a checkpoint). An error from fn rolls back and is returned
// as is; a failed commit is an ErrStorage error.
func (l *Ledger) update(fn func(*bolt.Tx) error) error {
	if l.readOnly {
		return ErrReadOnly
	}
	l.gate.RLock()
	defer l.gate.RUnlock()
	l.txMu.Lock()
	defer l.txMu.Unlock()
	return l.commitWrite(fn)
}

// writeTx returns the open write transaction, beginning one when none is.
// Under txMu.
func (l *Ledger) writeTx() (*bolt.Tx, error) {
	switch {
	case l.cur != nil: // Close's checkpoint uses it too
		return l.cur, nil
	case l.closed:
		return nil, ErrClosed
	case l.broken != nil:
		return nil, storageError(l.broken)
	}
	tx, err := l.db.Begin(true)
	if err != nil {
		return nil, closedErr(err)
	}
	l.cur = tx
	return tx, nil
}

// commitWrite runs fn (when not nil) in the open write transaction and
// commits it to the file with the sales journaled so far; the journal then
// starts again. Under txMu.
func (l *Ledger) commitWrite(fn func(*bolt.Tx) error) error {
	tx, err := l.writeTx()
	if err != nil {
		return err
	}
	if fn != nil {
		if err := fn(tx); err != nil {
			l.discard()
			return err
		}
	}
	journaled := l.journal != nil && l.journal.end > 0
	if journaled {
		if err := tx.Bucket(bucketMeta).Put(keyJournalGen, u64(l.journal.gen)); err != nil {
			l.discard()
			return storageError(err)
		}
	}
	l.cur = nil
	if err := l.commitTx(tx); err != nil {
		l.discard()
		return err
	}
	l.riders = nil
	if journaled {
		l.journal.reset()
	}
	return nil
}

// checkpoint commits the journaled sales to the file. Under txMu.
func (l *Ledger) checkpoint() error {
	switch {
	case l.cur == nil:
		return nil
	case (l.journal == nil || l.journal.end == 0) && len(l.riders) == 0:
		// Only refused sales went through it: nothing to write.
		_ = l.cur.Rollback()
		l.cur = nil
		return nil
	}
	return l.commitWrite(nil)
}

// checkpointSoon checkpoints in the background once the journal has grown
// past checkpointBytes, so that no sale waits for it. Under txMu.
func (l *Ledger) checkpointSoon() {
	if l.closed || l.journal == nil || l.journal.end < checkpointBytes || !l.checkpointing.CompareAndSwap(false, true) {
		return
	}
	l.background.Add(1)
	go func() {
		defer l.background.Done()
		defer l.checkpointing.Store(false)
		l.gate.RLock()
		defer l.gate.RUnlock()
		l.txMu.Lock()
		defer l.txMu.Unlock()
		if l.journal.end >= checkpointBytes {
			_ = l.checkpoint() // a failure is logged; the sales stay journaled
		}
	}()
}

// discard drops the open write transaction after a failure inside it and
// opens another with the journaled sales replayed from the journal, which is
// where they are durable. Under txMu.
func (l *Ledger) discard() {
	if l.cur != nil {
		_ = l.cur.Rollback()
		l.cur = nil
	}
	if (l.journal == nil || l.journal.end == 0) && len(l.riders) == 0 {
		return
	}
	tx, err := l.db.Begin(true)
	if err != nil {
		l.broken = err
		return
	}
	if l.journal != nil && l.journal.end > 0 {
		_, end, err := l.journal.replay(tx)
		if err == nil && end != l.journal.end {
			err = fmt.Errorf("journal %s: read back %d bytes of records, %d were written", l.journal.path, end, l.journal.end)
		}
		if err != nil {
			_ = tx.Rollback()
			l.broken = err
			l.log.Error("ledger cannot read its journal back; writes are refused until tilld restarts", logErr, err)
			return
		}
	}
	// The riders were made after every journaled record (a record made
	// later took them along), so they go on top.
	for _, p := range l.riders {
		if err := p.do(tx); err != nil {
			// Only acknowledgements and snapshots ride: losing them costs a
			// re-upload HQ dedupes, or a snapshot HQ sends again.
			l.log.Warn("acknowledgements and snapshots not yet written are dropped", logErr, err)
			l.riders = nil
			l.feedHeld = true // the feed's position must not pass the snapshots
			_ = tx.Rollback()
			l.discard()
			return
		}
	}
	l.cur = tx
}

// riderWait is how long a write that rides along (alongNext) waits for a sale
// to take it into the journal before a checkpoint commits it on its own.
const riderWait = time.Second

// alongNext runs fn in the open write transaction, without a commit of its
// own, and makes the puts fn returns there: they ride along with the next
// group commit (journaled ahead of its sales, at no extra fsync), or with a
// checkpoint, and when neither comes within riderWait a checkpoint commits
// them. fn must only read; an error from it is returned as is and writes
// nothing.
//
// Only what may be lost in a crash rides: an acknowledgement (HQ dedupes the
// re-upload), HQ's snapshot of a card, or the change feed's position kept
// after the snapshots (lost together, they are read again from the position
// kept before). Readers see the puts at once.
func (l *Ledger) alongNext(fn func(tx *bolt.Tx) ([]put, error)) error {
	if l.readOnly {
		return ErrReadOnly
	}
	l.gate.RLock()
	defer l.gate.RUnlock()
	l.txMu.Lock()
	defer l.txMu.Unlock()
	tx, err := l.writeTx()
	if err != nil {
		return err
	}
	puts, err := fn(tx)
	if err != nil || len(puts) == 0 {
		if l.journal == nil || l.journal.end == 0 && len(l.riders) == 0 {
			_ = l.checkpoint() // nothing in it: do not hold a transaction open
		}
		return err
	}
	for _, p := range puts {
		if err := p.do(tx); err != nil {
			l.discard()
			return storageError(err)
		}
		l.addRider(p)
	}
	if !l.riderCheckpoint && !l.closed {
		l.riderCheckpoint = true
		l.background.Add(1)
		go l.checkpointRiders()
	}
	return nil
}

// addRider records p among the riders, in place of an earlier put to the
// same key. Under txMu.
func (l *Ledger) addRider(p put) {
	for i, r := range l.riders {
		if string(r.bucket) == string(p.bucket) && string(r.k) == string(p.k) {
			l.riders = append(l.riders[:i], l.riders[i+1:]...)
			break
		}
	}
	l.riders = append(l.riders, p)
}

// checkpointRiders commits, riderWait from now, the riders no sale took along.
func (l *Ledger) checkpointRiders() {
	defer l.background.Done()
	t := time.NewTimer(riderWait)
	defer t.Stop()
	select {
	case <-l.stop:
		return // Close checkpoints
	case <-t.C:
	}
	l.gate.RLock()
	defer l.gate.RUnlock()
	l.txMu.Lock()
	defer l.txMu.Unlock()
	l.riderCheckpoint = false
	if l.closed || len(l.riders) == 0 {
		return
	}
	if err := l.checkpoint(); err != nil {
		l.log.Warn("acknowledgements and snapshots could not be written; retrying at the next commit", logErr, err)
	}
}

// openJournal opens the journal of a read-write ledger and moves the sales a
// crash left in it into the file. For a read-only one it only reports, in
// m.journaled, whether there are any.
func (l *Ledger) openJournal(m meta, noSync bool) (meta, error) {
	if l.readOnly {
		var err error
		m.journaled, err = journalPending(l.path, m.journalGen+1)
		return m, err
	}
	j, err := openJournal(l.path, m.journalGen+1, noSync)
	if err != nil {
		return m, err
	}
	l.journal = j // closed by Open on error
	tx, err := l.db.Begin(true)
	if err != nil {
		return m, err
	}
	n, end, err := j.replay(tx)
	if err == nil && n > 0 {
		_, err = l.checkMeta(tx) // what the records did agrees with the events
	}
	if err != nil || n == 0 {
		_ = tx.Rollback()
		return m, err
	}
	j.end = end
	l.cur = tx
	if err := l.commitWrite(nil); err != nil {
		if !errors.Is(err, ErrStorage) || l.cur == nil {
			return m, fmt.Errorf("move %d journaled commits into the file: %w", n, err)
		}
		// The disk refuses the checkpoint (full): the sales are durable in the
		// journal and commitWrite replayed them into a new transaction, which
		// readers read through. Serve from there; the file catches up at the
		// next checkpoint that the disk takes.
		l.log.Warn("ledger cannot move its journal into the file (sales are safe in the journal); it will at the next checkpoint",
			"commits", n, logErr, err)
		m, err = readMeta(l.cur)
		return m, err
	}
	err = l.db.View(func(tx *bolt.Tx) error {
		m, err = readMeta(tx)
		return err
	})
	l.log.Info("ledger journal replayed", "commits", n, logSeq, m.lastSeq)
	return m, err
}

// commitTx commits a write transaction, turning a failure into ErrStorage and
// logging a run of failures once and the recovery once.
func (l *Ledger) commitTx(tx *bolt.Tx) error {
	var err error
	if l.beforeCommit != nil {
		if err = l.beforeCommit(); err != nil {
			_ = tx.Rollback()
		}
	}
	if err == nil {
		err = tx.Commit()
	}
	return l.wrote(err)
}

// wrote turns a failed write into ErrStorage, logging a run of failures once
// and the recovery once.
func (l *Ledger) wrote(err error) error {
	if err != nil {
		err = storageError(closedErr(err))
		if l.failing.CompareAndSwap(false, true) {
			l.log.Error("ledger cannot write to its file; sales are refused until it can", logErr, err)
		}
		return err
	}
	if l.failing.CompareAndSwap(true, false) {
		l.log.Info("ledger writes to its file again")
	}
	return nil
}

func closedErr(err error) error {
	switch {
	case errors.Is(err, berrors.ErrDatabaseNotOpen), errors.Is(err, berrors.ErrTxClosed):
		return ErrClosed
	case errors.Is(err, berrors.ErrDatabaseReadOnly):
		return ErrReadOnly
	}
	return err
}

// meta is the decoded meta bucket.
type meta struct {
	schema      uint64
	terminal    string
	lastSeq     uint64
	lastHash    string
	acked       uint64
	anchorSeq   uint64 // seq of the last pruned event, 0 when none was pruned
	returnsKept uint64 // sales after it have their returns counted here, pruned or not
	// returnsKeptStored is returns_kept as the file holds it (returnsKept is
	// at most the anchor).
	returnsKeptStored uint64
	anchorHash        string
	activeRules       uint64 // 0 when no ruleset is active
	epoch             event.Epoch
	journalGen        uint64 // generation of the journal records in the file, 0 when none
	journaled         bool   // a read-only open found records in the journal to replay
}

func readMeta(tx *bolt.Tx) (meta, error) {
	b := tx.Bucket(bucketMeta)
	var m meta
	var err error
	num := func(key []byte) uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = getU64(b, key)
		return v
	}
	m.schema = num(keySchema)
	m.lastSeq = num(keyLastSeq)
	m.acked = num(keyAcked)
	m.anchorSeq = num(keyAnchorSeq)
	m.returnsKept = m.anchorSeq // a file without the key (edited, or before schema 5) counts none pruned
	if err == nil && b.Get(keyReturnsKept) != nil {
		// Never past the anchor: an edited value there would hide the
		// counts of kept sales (Verify reports it).
		m.returnsKeptStored = num(keyReturnsKept)
		m.returnsKept = min(m.returnsKeptStored, m.anchorSeq)
	}
	if err == nil && b.Get(keyActiveRules) != nil {
		m.activeRules = num(keyActiveRules)
	}
	if err == nil && b.Get(keyJournalGen) != nil {
		m.journalGen = num(keyJournalGen)
	}
	if err != nil {
		return meta{}, fmt.Errorf("%w: meta: %v", ErrCorrupt, err)
	}
	m.terminal = string(b.Get(keyTerminal))
	m.lastHash = string(b.Get(keyLastHash))
	m.anchorHash = string(b.Get(keyAnchorHash))
	if m.epoch, err = readEpoch(b); err != nil {
		return meta{}, err
	}
	return m, nil
}

func getU64(b *bolt.Bucket, key []byte) (uint64, error) {
	v := b.Get(key)
	if v == nil {
		return 0, fmt.Errorf("%s is missing", key)
	}
	n, err := seqKey(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return n, nil
}

// eventID is the event id of seq on terminal: see the package documentation.
func eventID(terminal string, seq uint64) string {
	return fmt.Sprintf("%s-%d", terminal, seq)
}
