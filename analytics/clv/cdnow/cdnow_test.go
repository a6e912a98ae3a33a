package cdnow

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	sample := " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n\r\n 00021 0002 19970101  3   63.34\r\n"
	master := " customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n 00002 19970112  5   77.00\n"
	rs, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{"00004", time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC), 2, 29.33},
		{"00004", time.Date(1997, 1, 18, 0, 0, 0, 0, time.UTC), 2, 29.73},
		{"00021", time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC), 3, 63.34},
	}
	if fmt.Sprint(rs) != fmt.Sprint(want) {
		t.Errorf("sample:\n got %v\nwant %v", rs, want)
	}
	rs, err = Parse(strings.NewReader(master))
	if err != nil || len(rs) != 2 || rs[1].Customer != "00002" || rs[1].CDs != 5 || rs[1].Dollars != 77 {
		t.Errorf("master: %v, %v", rs, err)
	}
	if ps := Purchases(rs); len(ps) != 2 || ps[1].Amount != 77 || ps[1].Customer != "00002" {
		t.Errorf("purchases: %+v", ps)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, says string }{
		{"00001 19970101 1 11.77\n00002 19970101 1\n", "line 2"},
		{"00001 1997011 1 11.77\n", "date \"1997011\""},
		{"00001 19970231 1 11.77\n", "date \"19970231\""},
		{"00001 19970101 -1 11.77\n", "number of CDs"},
		{"00001 19970101 1 -3\n", "dollar value"},
		{"00001 19970101 1 NaN\n", "dollar value"},
		{"0000x 19970101 1 1\n", "customer id"},
		{"00001 19970101 1 1 1 1\n", "6 fields"},
		{"00001 " + strings.Repeat("9", 5000) + "\n", "longer than"},
	} {
		_, err := Parse(strings.NewReader(c.in))
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v, want ErrSyntax saying %q", c.in, err, c.says)
		}
	}
}

// FuzzParse: any bytes either parse into records that are in their domain
// and print back to the same records, or give ErrSyntax; never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(" 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n"))
	f.Add([]byte(" customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n"))
	f.Add([]byte("1 19991231 0 0\n\n2 20000229 10 1e3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse(strings.NewReader(string(data)))
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is not ErrSyntax", err)
			}
			return
		}
		var b strings.Builder
		for _, r := range rs {
			if r.Customer == "" || r.CDs < 0 || !(r.Dollars >= 0) || math.IsInf(r.Dollars, 0) || r.Day.Location() != time.UTC {
				t.Fatalf("record out of its domain: %+v", r)
			}
			fmt.Fprintf(&b, "%s %s %d %s\n", r.Customer, r.Day.Format("20060102"), r.CDs, fmt.Sprint(r.Dollars))
		}
		again, err := Parse(strings.NewReader(b.String()))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(rs) {
			t.Fatalf("printed back %q: %v, %v; first parse %v", b.String(), again, err, rs)
		}
	})
}
