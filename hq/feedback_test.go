package hq

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tilld/tilld/event"
)

// FuzzDecodeFeedback feeds arbitrary feedback bodies to what HQ reads of a
// feedback event: it never panics, and what it keeps has a score of 0 to
// 10, a sale id, text a person typed and a day that parses.
func FuzzDecodeFeedback(f *testing.F) {
	for _, s := range []string{
		`{"sale_id":"s1","sale_event":"S1-T1-1","sale_seq":1,"card":"2000000000015","store":"S1","score":9,"comment":"Спасибо","at":"2026-11-23T10:00:00Z","asked":true}`,
		`{"sale_id":"s1","score":0,"utc_offset":10800}`, `{"sale_id":"s1","score":11}`, `{"sale_id":"s1","score":-1}`,
		`{"sale_id":"","score":5}`, `{"sale_id":"s1","score":5,"comment":"a\u0007"}`, `{"sale_id":"s1","score":5,"utc_offset":99999999}`,
		`{"sale_id":"s1","score":5.5}`, `null`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	at := time.Date(2026, 11, 23, 22, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		e := event.Event{Terminal: "S1-T1", Seq: 3, Type: event.TypeFeedback, At: at, Body: body}
		fb, err := decodeFeedback(&e)
		if err != nil {
			return
		}
		typed := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl) }
		if fb.Score < 0 || fb.Score > 10 || fb.SaleID == "" || !typed(fb.Comment) || !typed(fb.Store) || !typed(fb.Card) {
			t.Fatalf("kept %+v from %q", fb, body)
		}
		if _, err := time.Parse(time.DateOnly, fb.Day); err != nil || fb.Terminal != "S1-T1" || fb.Seq != 3 {
			t.Fatalf("kept %+v from %q: %v", fb, body, err)
		}
	})
}

// TestNPSAnswers: the till's day of each answer, its store and terminal,
// and whether it was asked reach analytics/loyalty's NPS.
func TestNPSAnswers(t *testing.T) {
	fs := []Feedback{{Terminal: "S1-T1", Store: "S1", Day: "2026-11-24", Score: 9, Asked: true}, {Terminal: "S2-T1", Store: "S2", Day: "2026-11-23", Score: 3}}
	as := NPSAnswers(fs)
	if len(as) != 2 || as[0].Store != "S1" || as[0].Score != 9 || !as[0].Asked || as[1].Day != as[0].Day-1 || as[1].Terminal != "S2-T1" {
		t.Errorf("answers: %+v", as)
	}
}
