//go:build linux

package ledger

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tilld/tilld/internal/ledgertest"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts it at
// cleanup. It skips the test when this process may not mount (not root, or a
// container without CAP_SYS_ADMIN): the fault-hook test TestCommitFailure covers
// the same paths without a real file system.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// A real full disk: the file system refuses bbolt's writes. Sales are refused
// with ErrDiskFull, nothing partial is stored, reads work, and once space is
// freed the same sales go through and the file verifies.
func TestDiskFullTmpfs(t *testing.T) {
	dir := mountTmpfs(t, 1<<20)
	path := filepath.Join(dir, "ledger.db")
	l, err := Open(path, Options{Terminal: "T1", Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Leave the ledger little room: a filler takes the rest of the file system.
	filler := fill(t, dir)
	if err := os.Truncate(filler, fileSize(t, filler)-256<<10); err != nil {
		t.Fatal(err)
	}

	var last uint64
	var full error
	var refused sale
	for i := 1; i <= 10000; i++ {
		s := sale{id: fmt.Sprint("s", i), card: fmt.Sprint("C", i%7), spend: 100, points: 1}
		r, err := l.RecordSale(s.request(), s.price(nil))
		if err != nil {
			full, refused = err, s
			break
		}
		last = r.Seq
	}
	if !errors.Is(full, ErrDiskFull) || !errors.Is(full, ErrStorage) {
		t.Fatalf("after %d sales: err = %v, want ErrDiskFull", last, full)
	}
	t.Logf("the disk filled up after %d sales: %v", last, full)
	for range 3 { // the disk stays full
		if _, err := l.RecordSale(refused.request(), refused.price(nil)); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("retry on a full disk: %v", err)
		}
	}
	if st := mustStats(t, l); st.LastSeq != last {
		t.Errorf("last seq %d after refused sales, want %d", st.LastSeq, last)
	}
	if _, ok, err := l.Account("C1"); !ok || err != nil {
		t.Errorf("account lookup on a full disk: %v, %v", ok, err)
	}
	if rep, err := l.Verify(); err != nil || !rep.OK() {
		t.Fatalf("verify on a full disk: %v %v", err, rep.Problems)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r := record(t, l, refused)
	if r.Seq != last+1 || r.Replayed {
		t.Errorf("the refused sale once space returned: %+v, want seq %d", r, last+1)
	}
	for i := range 50 {
		record(t, l, sale{id: fmt.Sprint("after", i), card: "C1", spend: 1})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "T1", true)
}

// fill takes every free byte of the file system dir is on with a file it
// returns the path of.
func fill(t *testing.T, dir string) string {
	t.Helper()
	filler, err := ledgertest.FillDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	return filler
}

// Sales journaled on a full disk, a stop that cannot move them into the file,
// and a start on the still full disk: Close keeps them in the journal without
// an error, Open serves them from the journal instead of hanging (bbolt's Close
// used to wait for the transaction the replay left open), and once space
// returns the next checkpoint writes them into the file.
func TestReopenOnFullDisk(t *testing.T) {
	dir := mountTmpfs(t, 1<<20)
	path := filepath.Join(dir, "ledger.db")
	l, err := Open(path, Options{Terminal: "T1", Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		record(t, l, sale{id: fmt.Sprint("a", i), card: "C1", spend: 100})
	}
	filler := fill(t, dir)
	last := uint64(10)
	var refused sale
	for i := range 5000 {
		s := sale{id: fmt.Sprint("b", i), card: "C1", spend: 100}
		r, err := l.RecordSale(s.request(), s.price(nil))
		if err != nil {
			if !errors.Is(err, ErrDiskFull) {
				t.Fatalf("sale %s on a full disk: %v", s.id, err)
			}
			refused = s
			break
		}
		last = r.Seq
	}
	if refused.id == "" {
		t.Fatal("5000 sales fit on a full 1 MiB file system")
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close on a full disk with sales in the journal: %v", err)
	}
	if inFile := fileLastSeq(t, path); inFile >= last {
		t.Fatalf("the file holds seq %d of %d: the disk took the checkpoint, so this test tests nothing", inFile, last)
	}

	opened := make(chan error, 1)
	go func() {
		var err error
		l, err = Open(path, Options{Terminal: "T1", Now: testClock()})
		opened <- err
	}()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("Open on a full disk with sales in the journal: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open on a full disk hangs")
	}
	if st := mustStats(t, l); st.LastSeq != last {
		t.Errorf("after a start on a full disk: last seq %d, want %d", st.LastSeq, last)
	}
	if a, ok, err := l.Account("C1"); err != nil || !ok || a.Sales != int64(last) {
		t.Errorf("account after a start on a full disk: %+v %v %v; want %d sales", a, ok, err, last)
	}
	if rep, err := l.Verify(); err != nil || !rep.OK() || rep.LastSeq != last {
		t.Errorf("verify on a full disk: %+v %v", rep, err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if r := record(t, l, refused); r.Seq != last+1 {
		t.Errorf("the refused sale once space returned: seq %d, want %d", r.Seq, last+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "T1", true)
}
