package localapi

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/sync/wire"
)

// The ledger's storage errors reach the cashier as a 503 that says the sale was
// not saved, in words, with no internal detail.
func TestFailStorage(t *testing.T) {
	a := &api{Options: Options{Logger: slog.New(slog.DiscardHandler)}}
	tests := []struct {
		name  string
		err   error
		code  string
		words string
	}{
		{"disk full", fmt.Errorf("record sale s1: %w", storageErr(ledger.ErrDiskFull, syscall.ENOSPC)), "disk_full", "disk is full"},
		{"I/O error", fmt.Errorf("record sale s1: %w", storageErr(nil, syscall.EIO)), "storage", "could not write to its disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			a.fail(w, nil, "sale", tt.err, about{})
			var we wire.Error
			if err := json.Unmarshal(w.Body.Bytes(), &we); err != nil {
				t.Fatal(err)
			}
			if w.Code != http.StatusServiceUnavailable || we.Code != tt.code || w.Header().Get("Retry-After") == "" {
				t.Errorf("answer %d %+v (Retry-After %q), want 503 %s with Retry-After", w.Code, we, w.Header().Get("Retry-After"), tt.code)
			}
			if !strings.Contains(we.Message, "NOT saved") || !strings.Contains(we.Message, tt.words) || strings.Contains(we.Message, "ledger.db") {
				t.Errorf("message %q: want it to say the sale was NOT saved and %q, without internal detail", we.Message, tt.words)
			}
		})
	}
}

// testStorageErr is an error as the ledger returns it for a failed commit.
type testStorageErr struct{ full, cause error }

func storageErr(full, cause error) error {
	return &testStorageErr{full, &fs.PathError{Op: "write", Path: "/var/lib/tilld/ledger.db", Err: cause}}
}

func (e *testStorageErr) Error() string {
	return "the ledger could not write to its file: " + e.cause.Error()
}
func (e *testStorageErr) Unwrap() []error {
	if e.full != nil {
		return []error{ledger.ErrStorage, e.full, e.cause}
	}
	return []error{ledger.ErrStorage, e.cause}
}
