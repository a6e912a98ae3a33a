package pos

import (
	"errors"
	"testing"
)

func TestParseBirthday(t *testing.T) {
	for _, tc := range []struct {
		in         string
		month, day int
		ok         bool
	}{
		{"1978-03-05", 3, 5, true},
		{"--02-29", 2, 29, true},
		{"--12-31", 12, 31, true},
		{"2001-02-29", 0, 0, false},
		{"1899-12-31", 0, 0, false},
		{"--13-01", 0, 0, false},
		{"05.03.1978", 0, 0, false},
		{"", 0, 0, false},
	} {
		m, d, err := ParseBirthday(tc.in)
		if (err == nil) != tc.ok || m != tc.month || d != tc.day {
			t.Errorf("ParseBirthday(%q) = %d %d %v", tc.in, m, d, err)
		}
	}
}

func TestCardHolderProfile(t *testing.T) {
	h := &CardHolder{Card: "1", Name: "Василий", Patronymic: "Петрович", Lang: "ru", Birthday: "--03-05", Phone: "+7 900 1234567"}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if p := h.Profile(); *p != (Profile{Name: "Василий", Patronymic: "Петрович", Lang: "ru", BirthMonth: 3, BirthDay: 5}) {
		t.Errorf("Profile = %+v", p)
	}
	if (*CardHolder)(nil).Profile() != nil {
		t.Error("a nil holder has a profile")
	}
}

// FuzzCardHolder: Validate never panics, names a field when it refuses, and
// what it accepts has a profile whose birthday is a real date or none.
func FuzzCardHolder(f *testing.F) {
	f.Add("2000000000015", "Василий", "+7 900 123-45-67", "v@example.ru", "1978-03-05", "ru")
	f.Add(" ", "\x00", "()", "a@b", "--02-30", "de")
	f.Fuzz(func(t *testing.T, card, name, phone, email, birthday, lang string) {
		h := CardHolder{Card: card, Name: name, Phone: phone, Email: email, Birthday: birthday, Lang: lang}
		err := h.Validate()
		var in *InputError
		if err != nil {
			if !errors.As(err, &in) || in.Field == "" || in.Problem == "" {
				t.Fatalf("Validate = %v: not an InputError naming a field", err)
			}
			return
		}
		p := h.Profile()
		if (p.BirthMonth == 0) != (h.Birthday == "") || p.BirthMonth > 12 || p.BirthDay > 31 {
			t.Fatalf("profile %+v of birthday %q", p, h.Birthday)
		}
	})
}
