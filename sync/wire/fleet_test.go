package wire

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestHealthRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, h := range []Health{
		{Tilld: "1.2.3", Outbox: 7, Oldest: at},
		{Tilld: "1.2.4", Readers: 2, ReadersUp: 1, ReaderError: "door: open /dev/ttyUSB0: no such file or directory",
			Clock: at.Add(1234 * time.Millisecond), CertNotAfter: at.AddDate(1, 0, 0)},
		{Outbox: 0, Readers: 3, ReadersUp: 3},
	} {
		q := url.Values{}
		h.AddTo(q)
		got, sent := ParseHealth(q)
		if !sent || got != h {
			t.Fatalf("ParseHealth(%s) = %+v %v, want %+v", q.Encode(), got, sent, h)
		}
	}
	if _, sent := ParseHealth(url.Values{"after": {"3"}}); sent {
		t.Fatal("a poll without health parsed as having some")
	}
}

// TestParseHealthDefensive: what a till of another version (or anyone) may
// send is bounded or dropped, never an error.
func TestParseHealthDefensive(t *testing.T) {
	long := strings.Repeat("ж", 200) // 2 bytes each
	for _, tc := range []struct {
		raw  string
		want Health
	}{
		{"outbox=1", Health{Outbox: 1}}, // a till of an older version
		{"outbox=1&readers=2&readers_up=5", Health{Outbox: 1, Readers: 2, ReadersUp: 2}},
		{"outbox=1&readers=1001&readers_up=1", Health{Outbox: 1}},
		{"outbox=1&readers=-1&readers_up=x", Health{Outbox: 1}},
		{"outbox=1&clock=yesterday&cert=2026-13-01T00:00:00Z", Health{Outbox: 1}},
		{"outbox=1&clock=2026-12-01T09:00:00.5%2B03:00", Health{Outbox: 1, Clock: time.Date(2026, 12, 1, 6, 0, 0, 5e8, time.UTC)}},
		{"outbox=1&reader_error=" + url.QueryEscape(long), Health{Outbox: 1, ReaderError: long[:MaxHealthReaderErr]}},
		{"outbox=1&reader_error=a%FFb", Health{Outbox: 1, ReaderError: "a\uFFFDb"}},
		{"outbox=1&tilld=" + url.QueryEscape("1."+long), Health{Outbox: 1, Tilld: ("1." + long)[:MaxHealthVersion]}},
	} {
		q, err := url.ParseQuery(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := ParseHealth(q); got != tc.want {
			t.Errorf("ParseHealth(%s) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func FuzzParseHealth(f *testing.F) {
	f.Add("outbox=3&oldest=2026-12-01T09:00:00Z&tilld=1.0")
	f.Add("outbox=-1&oldest=yesterday")
	f.Add("outbox=99999999999999999999999&tilld=" + string(make([]byte, 100)))
	f.Add("outbox=0&readers=2&readers_up=1&reader_error=door%3A+gone&clock=2026-12-01T09:00:00.123Z&cert=2027-12-01T09:00:00Z")
	f.Add("outbox=0&readers=65536&readers_up=99&reader_error=%FF%FE&clock=0000-01-01T00:00:00Z&cert=9999-12-31T23:59:59.999999999%2B23:59")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		h, sent := ParseHealth(q)
		if len(h.Tilld) > MaxHealthVersion || !utf8.ValidString(h.Tilld) {
			t.Fatalf("version %q kept", h.Tilld)
		}
		if len(h.ReaderError) > MaxHealthReaderErr || !utf8.ValidString(h.ReaderError) {
			t.Fatalf("reader error %q kept", h.ReaderError)
		}
		if h.Readers < 0 || h.Readers > MaxHealthReaders || h.ReadersUp < 0 || h.ReadersUp > h.Readers {
			t.Fatalf("readers %d, up %d", h.Readers, h.ReadersUp)
		}
		if !sent && h != (Health{}) {
			t.Fatalf("no health sent, got %+v", h)
		}
		if sent { // what HQ parsed, a till can send again unchanged
			again := url.Values{}
			h.AddTo(again)
			if h2, _ := ParseHealth(again); h2 != h {
				t.Fatalf("ParseHealth(AddTo(%+v)) = %+v", h, h2)
			}
		}
	})
}
