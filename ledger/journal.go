package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/internal/durable"
)

// The journal: a sale is durable once its record is in the journal.
//
// bbolt commits with two fsyncs (the new pages, then the meta page that points
// at them), which is what keeps its file whole after a power cut. A sale does
// not wait for them. Its writes go into a bbolt write transaction that stays
// open across commits (Ledger.cur) and, as one record per group commit, into
// the journal file beside the ledger (PATH-journal), which is written and
// fdatasynced: one fsync per commit, like SQLite's WAL. The open transaction is
// committed to the bbolt file later, at a checkpoint: when the journal passes
// checkpointBytes, before any other write (a ruleset, a holder: those commit
// together with the journaled sales), before a read that walks the file
// (Verify), and at Close. Readers see the journaled sales through the open
// transaction. HQ's acknowledgements and snapshots ride along instead: made
// in the open transaction, journaled at the head of the next group commit's
// record, or committed by a checkpoint riderWait later (Ledger.alongNext).
//
// After a crash the bbolt file is as of the last checkpoint (bbolt's own
// commits are whole or absent) and Open replays the journal's records into it,
// then checkpoints. A checkpoint stores the generation of the records it holds
// in the meta ("journal_gen"), and the journal starts again at its beginning
// with the next generation, so replay takes only records of the generation
// after the meta's: older ones, already in the file, are never applied twice.
// Each record also names the last seq the file had before it, and replay
// refuses a journal that does not continue the file (a ledger restored from a
// backup beside a newer journal).
//
// A record is: payload length (uint32), CRC-32C of everything after this field
// (uint32), generation (uint64), last seq before the record (uint64), then the
// payload, a list of bbolt puts (bucket name, key, value, each preceded by its
// length as a uvarint), padded with zeros to a multiple of journalBlock. Records
// start on block boundaries, so writing one never rewrites a block of an
// earlier, acknowledged record; a record cut short by a crash fails its CRC and
// ends the replay. The file grows journalGrow at a time and is reused from the
// start after every checkpoint, so most fdatasyncs have no file size to write.

const (
	journalSuffix   = "-journal"
	journalBlock    = 4096
	journalHeader   = 24
	journalGrow     = 256 << 10
	checkpointBytes = 4 << 20
	// maxJournalRecord bounds a record's payload when reading, far above what
	// maxBatch sales can take.
	maxJournalRecord = 256 << 20
)

var (
	keyJournalGen = []byte("journal_gen")
	crcTable      = crc32.MakeTable(crc32.Castagnoli)
)

// journal is the open journal file. It is used under Ledger.txMu.
type journal struct {
	f      *os.File
	path   string
	gen    uint64 // generation of the records being written
	end    int64  // where the next record goes: the bytes of the records since the last checkpoint
	size   int64  // the file's size
	noSync bool
	buf    []byte // the last record written, reused
}

// journalPath is the journal of the ledger file at path.
func journalPath(path string) string { return path + journalSuffix }

// openJournal opens (creating it when missing) the journal of the ledger at
// path, for records of generation gen. A journal it creates is made durable
// in its directory before it is used.
func openJournal(path string, gen uint64, noSync bool) (*journal, error) {
	jp := journalPath(path)
	f, err := os.OpenFile(jp, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if f, err = os.OpenFile(jp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil && !noSync {
			err = durable.Created(filepath.Dir(jp))
		}
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, fmt.Errorf("open journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return &journal{f: f, path: jp, gen: gen, size: fi.Size(), noSync: noSync}, nil
}

func (j *journal) close() error { return j.f.Close() }

// journalRecord collects the puts of one group commit.
type journalRecord struct {
	base uint64 // the file's last seq before the record
	buf  []byte
}

func (r *journalRecord) add(p put) {
	r.buf = binary.AppendUvarint(r.buf, uint64(len(p.bucket)))
	r.buf = append(r.buf, p.bucket...)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(p.k)))
	r.buf = append(r.buf, p.k...)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(p.v)))
	r.buf = append(r.buf, p.v...)
}

// append writes r after the journal's records and syncs it. On error the
// record does not count: the next append overwrites it, and a replay never
// reaches it.
func (j *journal) append(r *journalRecord) error {
	n := roundBlock(journalHeader + int64(len(r.buf)))
	total := n
	if grow := j.end + n - j.size; grow > 0 {
		// Zeros to the next step, in the same write: the file's size changes
		// once per journalGrow, not with every record.
		total += roundUp(grow, journalGrow) - grow
	}
	if int64(cap(j.buf)) < total {
		j.buf = make([]byte, total)
	}
	rec := j.buf[:total]
	binary.BigEndian.PutUint32(rec[0:], uint32(len(r.buf)))
	binary.BigEndian.PutUint64(rec[8:], j.gen)
	binary.BigEndian.PutUint64(rec[16:], r.base)
	copy(rec[journalHeader:], r.buf)
	clear(rec[journalHeader+len(r.buf):])
	binary.BigEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:journalHeader+len(r.buf)], crcTable))
	if _, err := j.f.WriteAt(rec, j.end); err != nil {
		j.invalidate()
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	j.size = max(j.size, j.end+int64(len(rec)))
	if !j.noSync {
		if err := fdatasync(j.f); err != nil {
			j.invalidate()
			return fmt.Errorf("sync journal %s: %w", j.path, err)
		}
	}
	j.end += n
	return nil
}

// invalidate zeroes the header at the end of the records, best effort, so that
// a record whose write or sync failed is not found by a replay after a crash.
func (j *journal) invalidate() {
	_, _ = j.f.WriteAt(make([]byte, journalHeader), j.end)
}

// reset starts the journal again, empty, with the next generation: the
// records so far are in the bbolt file.
func (j *journal) reset() {
	j.gen++
	j.end = 0
}

// replay applies to tx, in order, the journal's records of its generation,
// from the start to the first that is missing, torn or of another generation.
// It returns how many records it applied and where they end; it leaves the
// journal as it was.
func (j *journal) replay(tx *bolt.Tx) (records int, end int64, err error) {
	end, err = j.scan(func(off int64, base uint64, payload []byte) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		if base != m.lastSeq {
			return fmt.Errorf("%w: the journal %s does not continue the ledger file: its record at byte %d follows seq %d, the file ends at seq %d "+
				"(was the ledger restored from a backup? move the journal aside to open the file as it is)", ErrCorrupt, j.path, off, base, m.lastSeq)
		}
		if err := applyRecord(tx, payload); err != nil {
			return fmt.Errorf("%w: journal %s, record at byte %d: %v", ErrCorrupt, j.path, off, err)
		}
		records++
		return nil
	})
	return records, end, err
}

// scan calls fn with the journal's records of its generation, from the start
// to the first that is missing, torn (its CRC fails: it was cut short by a
// crash and never acknowledged) or of an older generation (already in the
// file), and returns where they end. A record of a newer generation is an
// error: the journal went on from a later state of the file. An error from fn
// stops the scan.
func (j *journal) scan(fn func(off int64, base uint64, payload []byte) error) (end int64, err error) {
	head := make([]byte, journalHeader)
	for {
		if _, err := j.f.ReadAt(head, end); err != nil {
			if errors.Is(err, io.EOF) {
				return end, nil
			}
			return end, fmt.Errorf("read journal %s at %d: %w", j.path, end, err)
		}
		size := int64(binary.BigEndian.Uint32(head[0:]))
		if size == 0 || size > maxJournalRecord || end+journalHeader+size > j.size {
			return end, nil
		}
		rec := make([]byte, journalHeader+size)
		if _, err := j.f.ReadAt(rec, end); err != nil {
			return end, fmt.Errorf("read journal %s at %d: %w", j.path, end, err)
		}
		if crc32.Checksum(rec[8:], crcTable) != binary.BigEndian.Uint32(head[4:]) {
			return end, nil
		}
		switch gen := binary.BigEndian.Uint64(head[8:]); {
		case gen < j.gen:
			return end, nil // already in the file
		case gen > j.gen:
			return end, fmt.Errorf("%w: the journal %s does not continue the ledger file: its record at byte %d is of generation %d, the file expects %d "+
				"(was the ledger restored from a backup? move the journal aside to open the file as it is)", ErrCorrupt, j.path, end, gen, j.gen)
		}
		if err := fn(end, binary.BigEndian.Uint64(rec[16:]), rec[journalHeader:]); err != nil {
			return end, err
		}
		end += roundBlock(journalHeader + size)
	}
}

// applyRecord does a record's puts.
func applyRecord(tx *bolt.Tx, payload []byte) error {
	for len(payload) > 0 {
		var p put
		var err error
		if p.bucket, payload, err = field(payload); err != nil {
			return fmt.Errorf("bucket name: %w", err)
		}
		if p.k, payload, err = field(payload); err != nil {
			return fmt.Errorf("key: %w", err)
		}
		if p.v, payload, err = field(payload); err != nil {
			return fmt.Errorf("value: %w", err)
		}
		if err := p.do(tx); err != nil {
			return err
		}
	}
	return nil
}

// field splits a uvarint-length-prefixed field off b.
func field(b []byte) (f, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errors.New("truncated")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

func roundBlock(n int64) int64 { return roundUp(n, journalBlock) }

func roundUp(n, step int64) int64 { return (n + step - 1) / step * step }

// journalPending reports whether the journal of the ledger at path holds a
// record of generation gen: sales a crash left there, not yet in the file.
// It only reads.
func journalPending(path string, gen uint64) (bool, error) {
	f, err := os.Open(journalPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("open journal: %w", err)
	}
	j := &journal{f: f, path: journalPath(path), gen: gen, size: fi.Size()}
	end, err := j.scan(func(int64, uint64, []byte) error { return errStop })
	if errors.Is(err, errStop) {
		return true, nil
	}
	return end > 0, err
}
