// Package floor is what a benchmark compares tilld with: the cheapest ways
// this machine has of making a record durable. Fsync4K is one 4 KiB write and
// fdatasync, the disk's floor; SQLite is an insert committed by SQLite in WAL
// mode with synchronous=FULL, the embedded database a till could have used.
// Handler serves a commit over HTTP, the floor of a sale through an API.
// The ledger's benchmarks (ledger/ledgerbench) and the local API's
// (e2e BenchmarkSaleLatency) both measure against them.
package floor

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	_ "modernc.org/sqlite" // the SQLite of the comparison, pure Go
)

// Commit makes the i-th record durable.
type Commit func(i int64) error

// Fsync4K opens a file in dir whose commit writes one 4 KiB page (of 256,
// in turn) and fdatasyncs it. close closes the file.
func Fsync4K(dir string) (commit Commit, close func() error, err error) {
	f, err := os.OpenFile(filepath.Join(dir, "fsync4k"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("fsync4k: %w", err)
	}
	page := make([]byte, 4096)
	return func(i int64) error {
		page[0] = byte(i)
		if _, err := f.WriteAt(page, (i%256)*4096); err != nil {
			return err
		}
		return fdatasync(f)
	}, f.Close, nil
}

// SQLite opens a database in dir whose commit inserts row as the i-th row
// of a table, in a transaction of its own (WAL, synchronous=FULL, checked).
// close closes the database.
func SQLite(dir string, row []byte) (commit Commit, close func() error, err error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "events.sqlite")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: %w", err)
	}
	fail := func(err error) (Commit, func() error, error) {
		return nil, nil, errors.Join(fmt.Errorf("sqlite: %w", err), db.Close())
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY, event BLOB NOT NULL)`); err != nil {
		return fail(err)
	}
	var mode string
	var sync int
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		return fail(fmt.Errorf("journal_mode %q, %v; want wal", mode, err))
	}
	if err := db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		return fail(fmt.Errorf("synchronous %d, %v; want 2 (FULL)", sync, err))
	}
	ins, err := db.Prepare(`INSERT INTO events (seq, event) VALUES (?, ?)`)
	if err != nil {
		return fail(err)
	}
	return func(i int64) error {
			_, err := ins.Exec(i+1, row)
			return err
		}, func() error {
			return errors.Join(ins.Close(), db.Close())
		}, nil
}

// Handler is a trivial sale server, the floor of a sale through an HTTP API:
// it decodes the request with decode, makes it durable with commit (one at a
// time) and answers 201 with the request's id and its number.
func Handler(commit Commit, decode func(io.Reader) (id string, err error)) http.Handler {
	var mu sync.Mutex
	var seq int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := decode(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		seq++
		n := seq
		err = commit(n)
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"seq":%d}`, id, n)
	})
}
