// Package cdnow reads the CDNOW purchase-history files (Fader & Hardie's
// public research data, the set the BG/NBD paper was validated on) into
// purchases for package clv.
//
// A file has one purchase a line, fields separated by white space: customer
// id, (in the 1/10 sample only) the customer's number in the sample, date
// as YYYYMMDD, number of CDs, dollar value. The full file starts with a
// header line, which is skipped.
package cdnow

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tilld/tilld/analytics/clv"
)

// ErrSyntax is returned for a line that is not a CDNOW purchase; the
// wrapping error names the line and the field.
var ErrSyntax = errors.New("cdnow: syntax error")

// Record is one line of a CDNOW file.
type Record struct {
	Customer string
	Day      time.Time // midnight UTC
	CDs      int
	Dollars  float64
}

// maxLine bounds one line; real lines are under 40 bytes.
const maxLine = 4096

// Parse reads every record of a CDNOW file from r.
func Parse(r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	var out []Record
	fieldCount := 0
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if line == 1 && fields[0] == "customer_id" {
			continue
		}
		if fieldCount == 0 {
			fieldCount = len(fields)
		}
		if len(fields) != fieldCount || (fieldCount != 4 && fieldCount != 5) {
			return nil, fmt.Errorf("line %d: %w: %d fields, want 4 (id, date, CDs, dollars) or 5 (with the sample number) in every line", line, ErrSyntax, len(fields))
		}
		rec, err := parseFields(fields[0], fields[fieldCount-3], fields[fieldCount-2], fields[fieldCount-1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: %w: longer than %d bytes", len(out)+1, ErrSyntax, maxLine)
		}
		return nil, fmt.Errorf("read cdnow: %w", err)
	}
	return out, nil
}

func parseFields(id, date, cds, dollars string) (Record, error) {
	for _, c := range id {
		if c < '0' || c > '9' {
			return Record{}, fmt.Errorf("%w: customer id %q is not a number", ErrSyntax, id)
		}
	}
	if len(date) != 8 {
		return Record{}, fmt.Errorf("%w: date %q is not YYYYMMDD", ErrSyntax, date)
	}
	day, err := time.Parse("20060102", date)
	if err != nil {
		return Record{}, fmt.Errorf("%w: date %q is not YYYYMMDD", ErrSyntax, date)
	}
	n, err := strconv.Atoi(cds)
	if err != nil || n < 0 {
		return Record{}, fmt.Errorf("%w: number of CDs %q is not a non-negative integer", ErrSyntax, cds)
	}
	v, err := strconv.ParseFloat(dollars, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return Record{}, fmt.Errorf("%w: dollar value %q is not a non-negative number", ErrSyntax, dollars)
	}
	return Record{Customer: id, Day: day, CDs: n, Dollars: v}, nil
}

// Purchases converts records to purchases: the amount is the dollar value.
func Purchases(rs []Record) []clv.Purchase {
	out := make([]clv.Purchase, len(rs))
	for i, r := range rs {
		out[i] = clv.Purchase{Customer: r.Customer, Day: r.Day, Amount: r.Dollars}
	}
	return out
}
