package main

import (
	"strings"
	"testing"

	"github.com/tilld/tilld/analytics/loyalty"
)

// TestPrintNPS: the report prints each band with its share, the score
// signed, the response rate and the word-of-mouth estimate.
func TestPrintNPS(t *testing.T) {
	var answers []loyalty.Answer
	for i, s := range []int{10, 9, 9, 8, 7, 3, 0} {
		answers = append(answers, loyalty.Answer{Store: "S1", Terminal: "S1-T1", Day: 20415, Asked: i < 6, Score: s})
	}
	answers = append(answers, loyalty.Answer{Store: "S1", Terminal: "S1-T1", Day: 20415, Asked: true, Score: -1})
	rep, err := loyalty.NPSOf(answers, loyalty.NPSOptions{By: "store"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := printNPS(&b, rep); err != nil {
		t.Fatal(err)
	}
	wantAll(t, "report nps", b.String(),
		"ANSWERS  PROMOTERS 9-10  PASSIVES 7-8  DETRACTORS 0-6  NPS",
		"total     7        3 (42.9 %)",
		"2 (28.6 %)",
		"+14.3",
		"store S1",
		"asked at 7 sales, 6 answered (85.7 %)",
		"word of mouth")
}
