package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// crashCopy copies the ledger file and its journal as they are on disk now,
// while l is open: what a power cut at this moment would leave. The copy is
// in a new directory; its ledger path is returned.
func crashCopy(t testing.TB, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "ledger.db")
	for _, p := range []string{path, journalPath(path)} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		to := dst
		if p != path {
			to = journalPath(dst)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// A sale is durable once RecordSale returns, before any checkpoint: after a
// crash, Open replays it from the journal, with its account, and the file
// verifies.
func TestJournalReplayAfterCrash(t *testing.T) {
	l, path := openTest(t, Options{})
	var want []Receipt
	for i := range 20 {
		want = append(want, record(t, l, sale{id: fmt.Sprint("s", i), card: fmt.Sprint("C", i%3), spend: 100, points: 2}))
	}
	if l.journal.end == 0 {
		t.Fatal("nothing in the journal: the sales were checkpointed, the test tests nothing")
	}
	crashed := crashCopy(t, path)
	// The bbolt file alone has none of them: they are in the journal only.
	if rep := verifyFileOnly(t, crashed); rep.LastSeq != 0 {
		t.Fatalf("the bbolt file holds seq %d before any checkpoint", rep.LastSeq)
	}

	c := openAt(t, crashed, Options{}, checkFull)
	if st := mustStats(t, c); st.LastSeq != 20 {
		t.Fatalf("after the crash the ledger ends at seq %d, want 20", st.LastSeq)
	}
	for _, r := range want {
		again, err := c.RecordSale(sale{id: fmt.Sprint("s", r.Seq-1), card: fmt.Sprint("C", (r.Seq-1)%3), spend: 100, points: 2}.request(), nil)
		if err != nil || !again.Replayed || again.Seq != r.Seq || string(again.Body) != string(r.Body) {
			t.Fatalf("sale %d after the crash: %+v, %v; want the original receipt", r.Seq, again, err)
		}
	}
	if a, _, _ := c.Account("C0"); a.Sales != 7 || a.Points != 14 {
		t.Errorf("account C0 after replay: %+v, want 7 sales and 14 points", a)
	}
	if c.journal.end != 0 {
		t.Errorf("the journal holds %d bytes after the replay's checkpoint", c.journal.end)
	}
	// A second crash right after the replay replays nothing twice.
	record(t, c, sale{id: "after", card: "C0", spend: 1})
	again := openAt(t, crashCopy(t, crashed), Options{}, checkFull)
	if st := mustStats(t, again); st.LastSeq != 21 {
		t.Errorf("after a second crash the ledger ends at seq %d, want 21", st.LastSeq)
	}
	if a, _, _ := again.Account("C0"); a.Sales != 8 {
		t.Errorf("account C0 after a second replay: %d sales, want 8", a.Sales)
	}
}

// verifyFileOnly reads the bbolt file at path without its journal.
func verifyFileOnly(t *testing.T, path string) Report {
	t.Helper()
	jp := journalPath(path)
	tmp := jp + ".aside"
	if err := os.Rename(jp, tmp); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Rename(tmp, jp); err != nil {
			t.Fatal(err)
		}
	}()
	l, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep, err := l.Verify()
	if err != nil || !rep.OK() {
		t.Fatalf("the bbolt file alone: %v %v", err, rep.Problems)
	}
	return rep
}

// A record cut short by a crash (its fsync never returned, so its sales were
// never answered) ends the replay: the records before it are replayed, it is
// not, and the ledger continues from there.
func TestJournalTornRecord(t *testing.T) {
	l, path := openTest(t, Options{})
	for i := range 5 {
		record(t, l, sale{id: fmt.Sprint("s", i), card: "C", spend: 10})
	}
	crashed := crashCopy(t, path)
	// Damage the last record's payload, as a write cut short would.
	f, err := os.OpenFile(journalPath(crashed), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("torn"), 4*journalBlock+journalHeader+10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := openAt(t, crashed, Options{}, checkFull)
	if st := mustStats(t, c); st.LastSeq != 4 {
		t.Fatalf("after a torn fifth record the ledger ends at seq %d, want 4", st.LastSeq)
	}
	if r := record(t, c, sale{id: "s4", card: "C", spend: 10}); r.Seq != 5 || r.Replayed {
		t.Errorf("the torn sale sent again: %+v, want it recorded as seq 5", r)
	}
}

// Records already moved into the file are never applied again, even though
// their bytes stay in the journal after a checkpoint: here an Ack changed the
// account after them, and a replay of the old records would undo it.
func TestJournalOldRecordsIgnored(t *testing.T) {
	l, path := openTest(t, Options{})
	for i := range 5 {
		record(t, l, sale{id: fmt.Sprint("s", i), card: "C", spend: 10})
	}
	if err := l.Ack(5); err != nil {
		t.Fatal(err)
	}
	checkpointNow(t, l) // the five sales and the ack go into the file
	if l.journal.end != 0 {
		t.Fatalf("journal holds %d bytes after a checkpoint", l.journal.end)
	}
	c := openAt(t, crashCopy(t, path), Options{}, checkFull)
	if st := mustStats(t, c); st.LastSeq != 5 || st.Acked != 5 {
		t.Errorf("after the crash: %+v, want seq 5 acked 5", st)
	}
}

// A journal beside a file it does not continue (the file was restored from a
// backup) is refused, naming the journal and what to do, and both are left
// as they are.
func TestJournalOfAnotherFile(t *testing.T) {
	l, path := openTest(t, Options{})
	record(t, l, sale{id: "s1", spend: 10})
	if err := l.Ack(1); err != nil {
		t.Fatal(err)
	}
	checkpointNow(t, l)
	backup := crashCopy(t, path) // the file at seq 1, with an empty journal
	for i := 2; i <= 4; i++ {
		record(t, l, sale{id: fmt.Sprint("s", i), spend: 10})
	}
	if err := l.Ack(4); err != nil {
		t.Fatal(err)
	}
	checkpointNow(t, l)
	record(t, l, sale{id: "s5", spend: 10}) // journaled, gen 2
	newer := crashCopy(t, path)
	// The backup's meta says journal generation 1, so gen 2 records apply to
	// it; but they follow seq 4, and the backup ends at seq 1.
	journal, err := os.ReadFile(journalPath(newer))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(journalPath(backup), journal, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(backup, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), journalPath(backup)) || !strings.Contains(err.Error(), "move the journal aside") {
		t.Fatalf("Open of a backup beside a newer journal: %v", err)
	}
	// Moving it aside opens the backup as it is.
	if err := os.Rename(journalPath(backup), journalPath(backup)+".aside"); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, openAt(t, backup, Options{}, checkFull)); st.LastSeq != 1 {
		t.Errorf("the backup opened at seq %d, want 1", st.LastSeq)
	}
}

// A read-only open (tillctl ledger verify --file after a crash) sees the
// sales in the journal: it moves them into the file first.
func TestJournalReadOnlyOpen(t *testing.T) {
	l, path := openTest(t, Options{})
	for i := range 3 {
		record(t, l, sale{id: fmt.Sprint("s", i), card: "C", spend: 10})
	}
	crashed := crashCopy(t, path)
	ro := openAt(t, crashed, Options{ReadOnly: true}, checkFull)
	rep, err := ro.Verify()
	if err != nil || !rep.OK() || rep.LastSeq != 3 {
		t.Errorf("read-only verify after a crash: %+v %v, want 3 events and no problems", rep, err)
	}
}

// The journal is moved into the file once it passes checkpointBytes, in the
// background, and starts again; nothing is lost across many checkpoints.
func TestJournalCheckpoints(t *testing.T) {
	l, path := openTest(t, Options{NoSync: true})
	n := 3 * checkpointBytes / journalBlock
	for i := range n {
		record(t, l, sale{id: fmt.Sprint("s", i), card: fmt.Sprint("C", i%10), spend: 1, points: 1})
	}
	l.background.Wait()
	l.txMu.Lock()
	end := l.journal.end
	gen := l.journal.gen
	l.txMu.Unlock()
	if end >= checkpointBytes || gen < 3 {
		t.Errorf("after %d sales the journal holds %d bytes in generation %d: no checkpoints", n, end, gen)
	}
	fi, err := os.Stat(journalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 2*checkpointBytes {
		t.Errorf("the journal file grew to %d bytes; it should be reused from its start", fi.Size())
	}
	if st := mustStats(t, l); st.LastSeq != uint64(n) {
		t.Errorf("last seq %d, want %d", st.LastSeq, n)
	}
}

// FuzzJournal opens a real ledger with a damaged journal: Open either fails
// with an error or returns a ledger whose meta agrees with its events (see
// openDamaged). Nothing may crash the process.
//
// As for FuzzOpen, the input is a patch (patchFile), not a whole journal: it
// damages the journal that three sales left beside the file (three records
// of a block each), or, with payload, the first record's payload, which is
// then framed as a well-formed record (its CRC right) so that the parser of
// puts is reached. The ledger file and the journal are written without
// fsync, to a memory file system when there is one. Whole journals as inputs
// ran at 0 to 20 runs a second: the fuzzer spent its time minimizing inputs
// of kilobytes. It runs at a few hundred a second, for FuzzOpen's reason
// (what Open costs) and the replay's commit: 1.5 ms of CPU a run here.
func FuzzJournal(f *testing.F) {
	l, seed := seedLedger(f)
	file, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	journal, err := os.ReadFile(journalPath(seed))
	if err != nil {
		f.Fatal(err)
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	mustOpenClean(f, file, journal)
	size := int(binary.BigEndian.Uint32(journal))
	payload := journal[journalHeader : journalHeader+size] // the first record's
	f.Add([]byte{}, false)                                 // the three sales, intact
	f.Add([]byte{0, 0x10, 0x40, 0}, false)                 // torn in the second record
	f.Add([]byte{0, 0, 8, 1, 7}, false)                    // the first record's generation
	f.Add([]byte{0, 0, 0x20, 2, 0xff, 0xff}, false)        // bytes of the first record
	f.Add([]byte{}, true)                                  // the first record's puts, framed again
	f.Add([]byte{0, 0, 0, 1, 0x7f}, true)                  // a bucket name's length
	f.Add([]byte{0, 0, 0, 16, 6, 'e', 'v', 'e', 'n', 't', 's', 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, '{'}, true)
	dir := fuzzDir(f)
	path := filepath.Join(dir, "ledger.db")
	f.Fuzz(func(t *testing.T, patch []byte, isPayload bool) {
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		defer removeLedger(t, path)
		var b []byte
		if isPayload {
			p := patchFile(payload, patch)
			b = make([]byte, journalHeader+len(p))
			binary.BigEndian.PutUint32(b, uint32(len(p)))
			binary.BigEndian.PutUint64(b[8:], binary.BigEndian.Uint64(journal[8:])) // the generation of the file's journal
			binary.BigEndian.PutUint64(b[16:], binary.BigEndian.Uint64(journal[16:]))
			copy(b[journalHeader:], p)
			binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
		} else {
			b = patchFile(journal, patch)
		}
		if err := os.WriteFile(journalPath(path), b, 0o600); err != nil {
			t.Fatal(err)
		}
		openDamaged(t, path)
	})
}
