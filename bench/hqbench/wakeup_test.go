package hqbench

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/sync/wire"
)

// wakeupWindow is the time each upload of BenchmarkUploadWakeups gets, so that
// HQ finishes the work the upload set off before the next one.
const wakeupWindow = 100 * time.Millisecond

// BenchmarkUploadWakeups measures the CPU a one-sale upload costs the tillhq
// process while 500 terminals wait on its combined long poll, as in
// BenchmarkLongPoll: a till uploads each sale as it is made, so in a chain of
// 500 terminals such uploads come several times a second. One more terminal, not in the fleet,
// uploads one sale every 100 ms; HQ's CPU time (from /proc) over those windows,
// less its CPU over as long a time with no upload (the fleet's own polling),
// divided by the uploads, is reported as cpu-ms/upload; over PostgreSQL, the
// database server's CPU the same way as pg-cpu-ms/upload. The sales name cards
// no terminal of the fleet has seen, so the change feed has nothing for them.
//
//	go test ./bench/hqbench -run '^$' -bench UploadWakeups -benchtime 100x
func BenchmarkUploadWakeups(b *testing.B) {
	bin := buildTillhq(b)
	for _, v := range []struct {
		name              string
		changes, postgres bool
	}{
		{"rules/bolt", false, false},
		{"rules/postgres", false, true},
		{"rules+changes/bolt", true, false},
		{"rules+changes/postgres", true, true},
	} {
		var p *poll // made once, for the sub-benchmark's runs, only when it runs
		var up *uploader
		// cpu returns HQ's CPU time and its database server's (0 for bbolt).
		cpu := func(b *testing.B) (hq, db time.Duration) {
			if p.dbURL != "" {
				db = postgresCPU(b, p.dbURL)
			}
			return p.hq.cpu(b), db
		}
		b.Run(v.name, func(sb *testing.B) {
			if p == nil {
				p = newPoll(b, bin, pollTerminals, v.changes, v.postgres)
				up = &uploader{client: terminalClient(b, p.ca, "SU", "U000"), url: p.hq.terminals, chain: &chainWriter{terminal: "U000"}}
			}
			b := sb
			start := time.Now()
			hq0, db0 := cpu(b)
			for i := range b.N {
				up.upload(b)
				time.Sleep(time.Until(start.Add(time.Duration(i+1) * wakeupWindow)))
			}
			hq1, db1 := cpu(b)
			b.StopTimer()
			time.Sleep(time.Duration(b.N) * wakeupWindow)
			hq2, db2 := cpu(b)
			ms := func(busy, idle time.Duration) float64 {
				return float64((busy - idle).Microseconds()) / 1000 / float64(b.N)
			}
			b.ReportMetric(ms(hq1-hq0, hq2-hq1), "cpu-ms/upload")
			if p.dbURL != "" {
				b.ReportMetric(ms(db1-db0, db2-db1), "pg-cpu-ms/upload")
			}
			b.ReportMetric(100*(hq2-hq1).Seconds()/(time.Duration(b.N)*wakeupWindow).Seconds(), "idle-cpu-%")
		})
		if p != nil {
			p.close()
		}
	}
}

// uploader is a terminal that uploads its sales one by one, as they are made.
type uploader struct {
	client *http.Client
	url    string
	chain  *chainWriter
}

// upload posts the terminal's next sale and checks that HQ acknowledged it.
func (u *uploader) upload(tb testing.TB) {
	tb.Helper()
	e := u.chain.next()
	body, err := json.Marshal(wire.UploadRequest{Terminal: e.Terminal, Events: []event.Event{e}})
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := u.client.Post(u.url+wire.PathUpload, "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ans wire.UploadResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &ans) != nil || ans.Acked != e.Seq {
		tb.Fatalf("upload of %s seq %d: %s %s", e.Terminal, e.Seq, resp.Status, data)
	}
}
