package hq

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseSimQuery(t *testing.T) {
	now := time.Date(2026, 12, 2, 23, 30, 0, 0, time.UTC)
	q, err := ParseSimQuery(url.Values{}, now)
	if err != nil || q.From.Format(time.DateOnly) != "2026-11-26" || q.To.Format(time.DateOnly) != "2026-12-02" || q.Store != "" {
		t.Fatalf("default = %+v, %v; want the 7 days 2026-11-26 to 2026-12-02", q, err)
	}
	q, err = ParseSimQuery(url.Values{"from": {"2026-01-01"}, "to": {"2026-01-31"}, "store": {"S1"}}, now)
	if err != nil || q.From.Format(time.DateOnly) != "2026-01-01" || q.To.Format(time.DateOnly) != "2026-01-31" || q.Store != "S1" {
		t.Fatalf("January of S1 = %+v, %v", q, err)
	}
	for _, c := range []struct {
		q    url.Values
		want string
	}{
		{url.Values{"from": {"2026-13-01"}}, `from "2026-13-01": want a date YYYY-MM-DD`},
		{url.Values{"to": {"yesterday"}}, `to "yesterday"`},
		{url.Values{"from": {"2026-02-01"}, "to": {"2026-01-01"}}, "from 2026-02-01 is after to 2026-01-01"},
		{url.Values{"store": {strings.Repeat("s", 65)}}, "at most 64 characters"},
	} {
		if _, err := ParseSimQuery(c.q, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSimQuery(%v) = %v, want %q", c.q, err, c.want)
		}
	}
}
