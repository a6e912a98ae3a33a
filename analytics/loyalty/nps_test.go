package loyalty

import "testing"

// npsFixture is the NPS worked example of docs/analytics.md.
var npsFixture = []Answer{
	{Store: "S1", Terminal: "S1-1", Day: day(2026, 10, 3), Asked: true, Score: 10},
	{Store: "S1", Terminal: "S1-1", Day: day(2026, 10, 9), Asked: true, Score: 9},
	{Store: "S1", Terminal: "S1-2", Day: day(2026, 10, 17), Asked: true, Score: 7},
	{Store: "S2", Terminal: "S2-1", Day: day(2026, 10, 20), Asked: true, Score: 3},
	{Store: "S2", Terminal: "S2-1", Day: day(2026, 10, 31), Asked: true, Score: -1},
	{Store: "S1", Terminal: "S1-1", Day: day(2026, 11, 2), Asked: true, Score: 9},
	{Store: "S1", Terminal: "S1-2", Day: day(2026, 11, 6), Asked: true, Score: 6},
	{Store: "S2", Terminal: "S2-1", Day: day(2026, 11, 11), Asked: true, Score: 0},
	{Store: "S2", Terminal: "S2-1", Day: day(2026, 11, 12), Asked: true, Score: -1},
	{Store: "S2", Terminal: "S2-1", Day: day(2026, 11, 30), Asked: false, Score: 10},
}

func TestNPSByHand(t *testing.T) {
	rep, err := NPSOf(npsFixture, NPSOptions{By: "store"})
	if err != nil {
		t.Fatal(err)
	}
	n := rep.Total
	if n.Answers != 8 || n.Promoters != 4 || n.Passives != 1 || n.Detractors != 3 || n.PromoterShare != 0.5 || n.PassiveShare != 0.125 ||
		n.DetractorShare != 0.375 || n.Score == nil || *n.Score != 12.5 || n.Asked != 9 || n.AnsweredAsked != 7 || n.ResponseRate != 0.7778 {
		t.Errorf("total %+v (score %v)", n, n.Score)
	}
	want := WOM{Positive: 14, Negative: 15, Won: 2.33, Lost: 12.45, Net: -10.12, Low: -13, High: -7.33}
	if n.WordOfMouth != want {
		t.Errorf("word of mouth %+v; want %+v", n.WordOfMouth, want)
	}
	if len(rep.Trend) != 2 || rep.Trend[0].Start != "2026-10-01" || *rep.Trend[0].NPS.Score != 25 || rep.Trend[0].Change != nil ||
		*rep.Trend[1].NPS.Score != 0 || *rep.Trend[1].Change != -25 {
		t.Errorf("trend %+v", rep.Trend)
	}
	if len(rep.Groups) != 2 {
		t.Fatalf("groups %+v", rep.Groups)
	}
	s1, s2 := rep.Groups[0].NPS, rep.Groups[1].NPS
	if rep.Groups[0].Key != "S1" || s1.Answers != 5 || *s1.Score != 40 || s1.ResponseRate != 1 {
		t.Errorf("S1 %+v", s1)
	}
	if rep.Groups[1].Key != "S2" || s2.Answers != 3 || *s2.Score != -33.3 || s2.Asked != 4 || s2.ResponseRate != 0.5 {
		t.Errorf("S2 %+v", s2)
	}
}

func TestNPSEdges(t *testing.T) {
	rep, err := NPSOf(nil, NPSOptions{})
	if err != nil || rep.Total.Score != nil || rep.Total.ResponseRate != 0 || len(rep.Trend) != 0 || len(rep.Groups) != 0 {
		t.Errorf("no answers: %+v, %v", rep, err)
	}
	rep, err = NPSOf([]Answer{{Day: day(2026, 1, 1), Asked: true, Score: -1}}, NPSOptions{By: "terminal", Period: PeriodWeek})
	if err != nil || rep.Total.Score != nil || rep.Total.ResponseRate != 0 || rep.Total.Asked != 1 || len(rep.Trend) != 1 || rep.Trend[0].Change != nil {
		t.Errorf("one unanswered question: %+v, %v", rep, err)
	}
	for _, o := range []NPSOptions{{By: "city"}, {Period: "year"}} {
		if _, err := NPSOf(npsFixture, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	// Order does not matter.
	rev := make([]Answer, len(npsFixture))
	for i, a := range npsFixture {
		rev[len(rev)-1-i] = a
	}
	a, _ := NPSOf(npsFixture, NPSOptions{By: "terminal", Period: PeriodDay})
	b, _ := NPSOf(rev, NPSOptions{By: "terminal", Period: PeriodDay})
	if *a.Total.Score != *b.Total.Score || len(a.Groups) != 3 || len(a.Trend) != len(b.Trend) || *a.Trend[3].NPS.Score != *b.Trend[3].NPS.Score {
		t.Errorf("order matters")
	}
}
