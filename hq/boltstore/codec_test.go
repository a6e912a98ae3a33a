package boltstore

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// TestCardCodec: a card's record, written with go-json-experiment's v1
// package (putCard), is encoding/json's bytes, and reads back (getCard) as
// encoding/json reads it — for random cards with lots, times in several
// zones and with nanoseconds — so a store written before reads the same.
func TestCardCodec(t *testing.T) {
	r := rand.New(rand.NewPCG(30, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("MSK", 3*3600), time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", -61)}
	when := func() time.Time {
		if r.IntN(4) == 0 {
			return time.Time{}
		}
		return time.Unix(r.Int64N(4e9), r.Int64N(2)*r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	}
	for i := range 2000 {
		c := card{Spend: money.Amount(r.Int64() >> r.IntN(64)), Points: r.Int64() >> r.IntN(64) * int64(1-2*r.IntN(2)),
			Sales: r.Int64N(1e6), LastSale: when(), Overdrawn: r.Int64N(3) * r.Int64N(1e4), First: when(), Last: when(),
			BirthdayBonus: when(), Change: r.Int64N(1e9)}
		for range r.IntN(4) * r.IntN(30) {
			c.Lots = append(c.Lots, pos.PointsLot{Points: r.Int64N(1e6) - 1000, Earned: when(), Expires: when()})
		}
		got, err := jsonv1.Marshal(c)
		want, stdErr := json.Marshal(c)
		if err != nil || stdErr != nil || !bytes.Equal(got, want) {
			t.Fatalf("card %d: v1 package writes %s (%v), encoding/json %s (%v)", i, got, err, want, stdErr)
		}
		var back, std card
		if err := jsonv1.Unmarshal(got, &back); err != nil || json.Unmarshal(want, &std) != nil || !reflect.DeepEqual(back, std) {
			t.Fatalf("card %d: v1 package reads %+v (%v), encoding/json %+v", i, back, err, std)
		}
	}
}

// BenchmarkCardCodec reads and writes again a card of n points lots, as an
// upload batch that sells to it does: the v1 package beside encoding/json.
//
//	go test ./hq/boltstore -run '^$' -bench CardCodec -benchmem
func BenchmarkCardCodec(b *testing.B) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)
	for _, n := range []int{1000, 10000} {
		c := card{Points: int64(n), Sales: int64(n)}
		for i := range n {
			earned := at.Add(time.Duration(i) * time.Minute)
			c.Lots = append(c.Lots, pos.PointsLot{Points: 1, Earned: earned, Expires: earned.Add(365 * 24 * time.Hour)})
		}
		for _, codec := range []struct {
			name      string
			marshal   func(any) ([]byte, error)
			unmarshal func([]byte, any) error
		}{
			{"v1-package", func(v any) ([]byte, error) { return jsonv1.Marshal(v) }, func(b []byte, v any) error { return jsonv1.Unmarshal(b, v) }},
			{"encoding-json", json.Marshal, json.Unmarshal},
		} {
			b.Run(codec.name+"/lots="+strconv.Itoa(n), func(b *testing.B) {
				rec, err := codec.marshal(c)
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					var back card
					if err := codec.unmarshal(rec, &back); err != nil {
						b.Fatal(err)
					}
					if rec, err = codec.marshal(back); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
