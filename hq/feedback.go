package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// Feedback is one NPS answer HQ keeps, from a feedback event a till
// uploaded (a pos.Feedback): per store, terminal, card and day.
type Feedback struct {
	Terminal string `json:"terminal"`
	Epoch    string `json:"epoch,omitempty"`
	Seq      uint64 `json:"seq"`
	Store    string `json:"store"`
	Region   string `json:"region,omitempty"`
	Card     string `json:"card,omitempty"`
	// Day is the till's day of the answer, YYYY-MM-DD.
	Day     string    `json:"day"`
	SaleID  string    `json:"sale_id"`
	Score   int       `json:"score"`
	Asked   bool      `json:"asked"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// FeedbackFilter selects feedback: the zero value selects all.
type FeedbackFilter struct {
	Store    string // only this store's
	Terminal string // only this terminal's
	Card     string // only this card's
	// From and To bound the day, YYYY-MM-DD, both included; "": no bound.
	From, To string
}

// Match reports whether the filter selects f.
func (ff FeedbackFilter) Match(f Feedback) bool {
	return (ff.Store == "" || f.Store == ff.Store) && (ff.Terminal == "" || f.Terminal == ff.Terminal) &&
		(ff.Card == "" || f.Card == ff.Card) && (ff.From == "" || f.Day >= ff.From) && (ff.To == "" || f.Day <= ff.To)
}

// Feedbacks is the part of a Store that keeps the NPS answers. Append
// stores one Feedback per feedback event it stores, in the same
// transaction, so an answer uploaded twice is kept once.
type Feedbacks interface {
	// Feedback returns the answers the filter selects, ordered by day,
	// terminal and seq.
	Feedback(ctx context.Context, f FeedbackFilter) ([]Feedback, error)
	// LastFeedback returns, for each of cards that answered at least once,
	// the time of its latest answer at any terminal (Feedback.At); cards
	// that never answered are not in the map.
	LastFeedback(ctx context.Context, cards []string) (map[string]time.Time, error)
}

// CardsChanged returns the cards (sorted, once each) whose accounts an
// upload changes: those of its sales and those of its answers. An answer
// moves its card in the change feed although it changes no figure, so that
// the tills that have seen the card learn its new last_feedback
// (pos.Account.LastFeedback) without scanning it.
func CardsChanged(sales []SaleFacts, fs []Feedback) []string {
	_, cards := SalesByCard(sales)
	for _, f := range fs {
		if f.Card != "" {
			if _, found := slices.BinarySearch(cards, f.Card); !found {
				cards = append(cards, f.Card)
				slices.Sort(cards)
			}
		}
	}
	return cards
}

// withLastFeedback sets pos.Account.LastFeedback of the accounts HQ sends
// tills (a look-up on scan, the change feed) and its staff from the answers
// HQ holds, so that a till asks the NPS question once per card and period
// across the chain, not once per till. A store that cannot say leaves the
// accounts as they are: the tills' own answers still hold.
func (s *Server) withLastFeedback(ctx context.Context, as ...*wire.AccountAnswer) {
	cards := make([]string, 0, len(as))
	for _, a := range as {
		if a.Card != "" {
			cards = append(cards, a.Card)
		}
	}
	if len(cards) == 0 {
		return
	}
	last, err := s.opts.Store.LastFeedback(ctx, cards)
	if err != nil {
		s.log.Warn("last feedback of cards", "cards", len(cards), "err", err)
		return
	}
	for _, a := range as {
		if at, ok := last[a.Card]; ok && at.After(a.Account.LastFeedback) {
			a.Account.LastFeedback = at
		}
	}
}

// decodeFeedback reads a feedback event's body (a pos.Feedback) as HQ
// keeps it. A score outside 0-10, a comment that is not text a person
// typed or a missing sale id is an error: the till never records one.
func decodeFeedback(e *event.Event) (Feedback, error) {
	var b pos.Feedback
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return Feedback{}, err
	}
	switch {
	case b.Score < pos.MinNPSScore || b.Score > pos.MaxNPSScore:
		return Feedback{}, fmt.Errorf("score %d is not between 0 and 10", b.Score)
	case b.SaleID == "" || len(b.SaleID) > 128 || !utf8.ValidString(b.SaleID):
		return Feedback{}, errors.New("no sale id")
	case len(b.Comment) > pos.MaxFeedbackComment || !utf8.ValidString(b.Comment) || strings.ContainsFunc(b.Comment, unicode.IsControl):
		return Feedback{}, errors.New("a comment that is not text")
	case b.UTCOffset < -14*3600 || b.UTCOffset > 14*3600:
		return Feedback{}, fmt.Errorf("utc_offset %d is not an offset from UTC", b.UTCOffset)
	}
	for _, s := range []string{b.Store, b.Region, b.Card} {
		if len(s) > 128 || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			return Feedback{}, errors.New("a store, region or card that is not text")
		}
	}
	return Feedback{Terminal: e.Terminal, Seq: e.Seq, Store: b.Store, Region: b.Region, Card: b.Card,
		Day: loyalty.DateString(loyalty.DayOf(e.At, b.UTCOffset)), SaleID: b.SaleID, Score: b.Score, Asked: b.Asked,
		Comment: b.Comment, At: e.At.UTC()}, nil
}

// NPSAnswers turns stored feedback into the answers analytics/loyalty's
// NPS function reads.
func NPSAnswers(fs []Feedback) []loyalty.Answer {
	out := make([]loyalty.Answer, 0, len(fs))
	for _, f := range fs {
		day, err := time.Parse(time.DateOnly, f.Day)
		if err != nil {
			continue // a store keeps only days it parsed
		}
		out = append(out, loyalty.Answer{Store: f.Store, Region: f.Region, Terminal: f.Terminal,
			Day: loyalty.DayOf(day, 0), Asked: f.Asked, Score: f.Score})
	}
	return out
}
