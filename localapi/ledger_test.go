package localapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tilld/tilld/event"
)

func TestLedgerVerifyAndExport(t *testing.T) {
	e := newEnv(t, tiersOnly)
	ctx := context.Background()
	var sold []string
	for i := range 5 {
		res, _ := e.sale(fmt.Sprint("s", i), "2000000000015", 10000)
		b, _ := json.Marshal(res.Sale)
		sold = append(sold, string(b))
	}

	rep, err := e.client.LedgerVerify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Terminal != "T1" || rep.Events != 5 || rep.LastSeq != 5 || rep.Accounts != 1 || len(rep.Problems) != 0 {
		t.Errorf("verify = %+v, want 5 events, 1 account, no problems", rep)
	}

	tests := []struct {
		from      uint64
		wantFirst uint64
		wantN     int
	}{
		{0, 1, 5}, {1, 1, 5}, {4, 4, 2}, {6, 0, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("from ", tt.from), func(t *testing.T) {
			var buf bytes.Buffer
			if err := e.client.LedgerExport(ctx, tt.from, &buf); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(&buf)
			var prev event.Event
			n := 0
			for sc.Scan() {
				var ev event.Event
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("line %d: %v", n+1, err)
				}
				if n == 0 && ev.Seq != tt.wantFirst {
					t.Errorf("first event %d, want %d", ev.Seq, tt.wantFirst)
				}
				if n > 0 {
					if err := event.Verify(prev.Seq, prev.Hash, &ev); err != nil {
						t.Errorf("exported chain: %v", err)
					}
				} else if ev.ComputeHash() != ev.Hash {
					t.Errorf("event %d: hash does not match its content after export", ev.Seq)
				}
				// The body is the sale exactly as the POS got it in its 201.
				var body, want map[string]any
				json.Unmarshal(ev.Body, &body)
				json.Unmarshal([]byte(sold[ev.Seq-1]), &want)
				if fmt.Sprint(body) != fmt.Sprint(want) {
					t.Errorf("event %d body %s\nwant the sale answered %s", ev.Seq, ev.Body, sold[ev.Seq-1])
				}
				prev = ev
				n++
			}
			if n != tt.wantN {
				t.Errorf("%d events exported, want %d", n, tt.wantN)
			}
		})
	}

	resp, err := e.do(http.MethodGet, "/v1/ledger/export?from=x", "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("export?from=x: %d, want 400", resp.StatusCode)
	}
	err = e.client.LedgerExport(ctx, 0, failingWriter{})
	if err == nil || !strings.Contains(err.Error(), "write the ledger export: disk full") {
		t.Errorf("export into a failing writer: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
