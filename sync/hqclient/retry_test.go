package hqclient

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"99999999999999999", time.Hour},
		{"Wed, 02 Dec 2026 12:00:30 GMT", 30 * time.Second},
		{"Wed, 02 Dec 2026 11:00:00 GMT", 0},
		{"Wed, 02 Dec 2099 11:00:00 GMT", time.Hour},
		{"soon", 0},
	} {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// HQ's headers are hostile input: whatever Retry-After says, the wait is
// between none and an hour.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "-1", "Wed, 02 Dec 2026 12:00:30 GMT", "9223372036854775807", "1e9"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %v", s, d)
		}
	})
}
