package pos

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// CardHolder is the personal data of a loyalty card's holder, as a cashier
// registers it at the till or HQ imports it. It is kept beside the ledger's
// chained events, never inside them, so that it can be forgotten without
// breaking a chain; the engine sees only its Profile.
type CardHolder struct {
	Card       string `json:"card"`
	Name       string `json:"name"`
	Patronymic string `json:"patronymic,omitempty"`
	Surname    string `json:"surname,omitempty"`
	// Lang is the language to greet in, "ru" or "en"; empty: the ruleset's default.
	Lang string `json:"lang,omitempty"`
	// Birthday is "YYYY-MM-DD", or "--MM-DD" when the year is not given
	// (ISO 8601); empty when unknown.
	Birthday string `json:"birthday,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Email    string `json:"email,omitempty"`
	// Consent is the holder's consent to be contacted (offers, reminders).
	Consent bool `json:"consent"`

	// Registered is when and where the holder was first signed up; Updated
	// when the record last changed. Both are set by whoever stores it.
	Registered time.Time `json:"registered,omitzero"`
	Terminal   string    `json:"terminal,omitempty"`
	Updated    time.Time `json:"updated,omitzero"`
}

// Limits of a CardHolder's fields, in bytes.
const (
	MaxNameLen    = 100
	MaxContactLen = 254
)

// Validate is ValidateAt the current time.
func (h *CardHolder) Validate() error { return h.ValidateAt(time.Now()) }

// ValidateAt reports the first thing wrong with the record, naming the field,
// with now the date a birthday may not be after. It trims the text fields
// first; a valid record has a card, a name, and a phone or an e-mail address.
func (h *CardHolder) ValidateAt(now time.Time) error {
	for _, f := range []*string{&h.Card, &h.Name, &h.Patronymic, &h.Surname, &h.Lang, &h.Birthday, &h.Phone, &h.Email} {
		*f = strings.TrimSpace(*f)
	}
	text := CheckText
	switch {
	case h.Card == "":
		return &InputError{Field: "card", Problem: "missing", Reason: "missing"}
	case h.Name == "":
		return &InputError{Field: "name", Problem: "missing: the holder's first name is required", Reason: "missing"}
	case h.Phone == "" && h.Email == "":
		return &InputError{Field: "phone", Problem: "a phone number or an e-mail address is required", Reason: "contact"}
	case h.Lang != "" && h.Lang != "ru" && h.Lang != "en":
		return &InputError{Field: "lang", Problem: `want "ru" or "en"`, Reason: "format"}
	}
	for _, f := range []struct {
		name, v string
		limit   int
	}{{"card", h.Card, 128}, {"name", h.Name, MaxNameLen}, {"patronymic", h.Patronymic, MaxNameLen},
		{"surname", h.Surname, MaxNameLen}, {"phone", h.Phone, MaxContactLen}, {"email", h.Email, MaxContactLen}} {
		if err := text(f.name, f.v, f.limit); err != nil {
			return err
		}
	}
	if h.Phone != "" {
		digits := 0
		for _, r := range h.Phone {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case strings.ContainsRune("+-() .", r):
			default:
				return &InputError{Field: "phone", Problem: fmt.Sprintf("unexpected character %q: digits, spaces, +, -, ( and ) only", r), Reason: "chars"}
			}
		}
		if digits < 5 || digits > 15 {
			return &InputError{Field: "phone", Problem: fmt.Sprintf("%d digits, want 5 to 15", digits), Reason: "range", Got: int64(digits), Min: 5, Max: 15}
		}
	}
	if h.Email != "" {
		if a, err := mail.ParseAddress(h.Email); err != nil || a.Address != h.Email {
			return &InputError{Field: "email", Problem: "not an e-mail address: want one address, such as name@example.ru", Reason: "format"}
		}
	}
	if h.Birthday != "" {
		if _, _, err := ParseBirthday(h.Birthday); err != nil {
			return &InputError{Field: "birthday", Problem: "not a date: want YYYY-MM-DD from 1900 on, or --MM-DD without the year", Reason: "format"}
		}
		// A full date sorts as text; today's date on the till's clock is
		// the latest a holder can have been born.
		if today := now.Format(time.DateOnly); !strings.HasPrefix(h.Birthday, "--") && h.Birthday > today {
			return &InputError{Field: "birthday", Problem: fmt.Sprintf("a date in the future (today is %s)", today), Reason: "future"}
		}
	}
	return nil
}

// CheckText checks a string field of a request: valid UTF-8 of at most limit
// bytes without control characters (NUL, newlines, tabs, escapes).
func CheckText(field, v string, limit int) error {
	if p := textProblem(v, limit); p != "" {
		e := &InputError{Field: field, Problem: p, Reason: "text"}
		if utf8.ValidString(v) && len(v) > limit {
			e.Reason, e.Got, e.Max = "too_long", int64(len(v)), int64(limit)
		}
		return e
	}
	return nil
}

// textProblem is what CheckText finds wrong with v, "" when nothing.
func textProblem(v string, limit int) string {
	switch {
	case !utf8.ValidString(v):
		return "not valid UTF-8"
	case len(v) > limit:
		return fmt.Sprintf("%d bytes, at most %d allowed", len(v), limit)
	case strings.ContainsFunc(v, unicode.IsControl):
		return "contains control characters"
	}
	return ""
}

// HolderChange is a card holder's registration or correction as a request
// sends it: a nil field was not sent, and a correction keeps its stored
// value; "" clears a text field. Registered, Terminal and Updated are the
// stored record's, accepted so that a record read back can be sent again, and
// ignored: whoever stores the record sets them.
type HolderChange struct {
	Card       string  `json:"card"`
	Name       *string `json:"name,omitempty"`
	Patronymic *string `json:"patronymic,omitempty"`
	Surname    *string `json:"surname,omitempty"`
	Lang       *string `json:"lang,omitempty"`
	Birthday   *string `json:"birthday,omitempty"`
	Phone      *string `json:"phone,omitempty"`
	Email      *string `json:"email,omitempty"`
	Consent    *bool   `json:"consent,omitempty"`

	Registered time.Time `json:"registered,omitzero"`
	Terminal   string    `json:"terminal,omitempty"`
	Updated    time.Time `json:"updated,omitzero"`
}

// Change is the change that makes a card's holder h, every field set.
func (h CardHolder) Change() HolderChange {
	return HolderChange{Card: h.Card, Name: &h.Name, Patronymic: &h.Patronymic, Surname: &h.Surname, Lang: &h.Lang,
		Birthday: &h.Birthday, Phone: &h.Phone, Email: &h.Email, Consent: &h.Consent}
}

// Apply returns h with the fields c sets; the card is c's.
func (c HolderChange) Apply(h CardHolder) CardHolder {
	h.Card = c.Card
	for _, f := range []struct {
		to   *string
		from *string
	}{{&h.Name, c.Name}, {&h.Patronymic, c.Patronymic}, {&h.Surname, c.Surname}, {&h.Lang, c.Lang},
		{&h.Birthday, c.Birthday}, {&h.Phone, c.Phone}, {&h.Email, c.Email}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if c.Consent != nil {
		h.Consent = *c.Consent
	}
	return h
}

// ParseBirthday reads "YYYY-MM-DD" or "--MM-DD" and returns the month and day.
func ParseBirthday(s string) (month, day int, err error) {
	layout, v := "2006-01-02", s
	if strings.HasPrefix(s, "--") {
		layout, v = "2006-01-02", "2000"+s[1:] // a leap year, so --02-29 is valid
	}
	d, err := time.Parse(layout, v)
	if err != nil {
		return 0, 0, fmt.Errorf("%q: want YYYY-MM-DD, or --MM-DD without the year", s)
	}
	if !strings.HasPrefix(s, "--") && d.Year() < 1900 {
		return 0, 0, fmt.Errorf("%q: a year before 1900", s)
	}
	return int(d.Month()), d.Day(), nil
}

// Profile is what the discount engine needs of the holder: the name to greet
// with and the birthday's month and day. A nil holder has no profile.
func (h *CardHolder) Profile() *Profile {
	if h == nil {
		return nil
	}
	p := &Profile{Name: h.Name, Patronymic: h.Patronymic, Lang: h.Lang}
	if m, d, err := ParseBirthday(h.Birthday); err == nil {
		p.BirthMonth, p.BirthDay = m, d
	}
	return p
}
