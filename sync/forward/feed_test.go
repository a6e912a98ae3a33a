package forward_test

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/sync/wire"
)

// TestFeedPositionFromAnOlderHQ: a till that kept its position in HQ's
// change feed starts against an HQ that names no feed (an older HQ, or a
// till moved to one): that HQ read the position as one of its own, so the
// till reads its feed again from the start, as tills did before positions
// were kept, and keeps no position of an unnamed feed.
func TestFeedPositionFromAnOlderHQ(t *testing.T) {
	hqStore, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hqStore.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	srv := hq.NewServer(hq.Options{Store: hqStore, SigningKey: key, MaxWait: 2 * time.Second})
	var older atomic.Bool // answer as an HQ that names no feed
	var mu sync.Mutex
	var asked []string // the changes= of every combined poll, in order
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathWait {
			srv.Handler().ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		mu.Lock()
		asked = append(asked, q.Get("changes")+" feed="+q.Get("feed"))
		mu.Unlock()
		if !older.Load() {
			srv.Handler().ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, r)
		var ans wire.WaitAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || rec.Code != http.StatusOK {
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		if ans.Changes != nil {
			ans.Changes.Feed = ""
		}
		wire.WriteJSON(w, http.StatusOK, ans)
	}))
	defer ts.Close()

	s := newStore(t, "S1-T1", ts.URL, key)
	const card = "2000000000015"
	s.sell(t, "a1", card, 1000_00, 0)
	s.start()
	var feed string
	var kept uint64
	waitFor(t, "the position kept after the card's account came back", func() bool {
		feed, kept, err = s.ledger.FeedPosition()
		return err == nil && feed != "" && kept > 0
	})
	s.stop()

	older.Store(true)
	mu.Lock()
	asked = nil
	mu.Unlock()
	s.start()
	defer func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("asked: %q", asked)
			mu.Unlock()
		}
	}()
	waitFor(t, "a poll of the feed from the start after the older HQ's answer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(asked) >= 2 && slices.ContainsFunc(asked[1:], func(a string) bool { return strings.HasPrefix(a, "0 feed=") })
	})
	s.stop()
	mu.Lock()
	first := asked[0]
	mu.Unlock()
	if want := formatAsked(kept, feed); first != want {
		t.Errorf("the first poll after the start asked %q; want the position kept, %q", first, want)
	}
	if f, n, err := s.ledger.FeedPosition(); err != nil || f != feed || n != kept {
		t.Errorf("after the older HQ's answers the ledger keeps %q %d %v; want %q %d as it was", f, n, err, feed, kept)
	}
}

func formatAsked(after uint64, feed string) string {
	b, _ := json.Marshal(after)
	return string(b) + " feed=" + feed
}
