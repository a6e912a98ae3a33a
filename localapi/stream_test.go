package localapi_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/pos"
)

// sseEvent is one event of the stream as a page reads it.
type sseEvent struct{ id, name, data string }

// follow opens the event stream (with lastID as Last-Event-ID when not
// "") and returns a function reading its next event.
func follow(t *testing.T, ctx context.Context, url, lastID string) func() sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	return func() sseEvent {
		t.Helper()
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && ev.name != "":
				return ev
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
		t.Fatalf("the stream ended: %v", sc.Err())
		return ev
	}
}

// TestEventStreamReconnects: the screens' stream numbers its events; two
// pages follow it at once; a page that reconnects with Last-Event-ID gets
// the events it missed, in order, then the live ones; an id of another
// tilld process gets nothing missed; keep-alive comments flow while idle.
func TestEventStreamReconnects(t *testing.T) {
	e := newEnv(t, npsRules)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cashier := follow(t, ctx, e.srv.URL, "")
	display := follow(t, ctx, e.srv.URL, "")
	scan := func(data string) {
		e.till.HandleScan(device.Scan{Source: "front", Kind: device.KindBarcode, Data: data, At: time.Now()})
	}
	// Let both subscriptions exist before the first event.
	time.Sleep(50 * time.Millisecond)
	scan("2000000000022")
	first := cashier()
	if d := display(); d.id != first.id || d.name != "scan" {
		t.Fatalf("two pages saw %+v and %+v", first, d)
	}
	// The cashier's page drops; meanwhile a quote and a sale happen.
	if _, err := e.client.Quote(ctx, pos.Basket{Card: "2000000000022", Lines: []pos.Line{{SKU: "tv", Qty: 1, UnitPrice: 100_00}}}); err != nil {
		t.Fatal(err)
	}
	e.sale("s1", "2000000000022", 100_00)
	for _, want := range []string{"quote", "sale"} {
		if ev := display(); ev.name != want {
			t.Fatalf("display: %+v, want %s", ev, want)
		}
	}
	again := follow(t, ctx, e.srv.URL, first.id)
	var names, data []string
	for range 2 {
		ev := again()
		names, data = append(names, ev.name), append(data, ev.data)
	}
	if strings.Join(names, " ") != "quote sale" {
		t.Errorf("after reconnecting with %s: %v, want the quote and the sale", first.id, names)
	}
	scan("2000000000015")
	if ev := again(); ev.name != "scan" || !strings.Contains(ev.data, "0015") {
		t.Errorf("the live event after the missed ones: %+v", ev)
	}
	// A sale's event carries what the screens show, the card masked.
	for _, d := range data {
		if strings.Contains(d, "2000000000022") || !strings.Contains(d, "•••••••••0022") {
			t.Errorf("a quote or sale on the stream does not mask the card: %s", d)
		}
	}
	other := follow(t, ctx, e.srv.URL, "deadbeef-1")
	time.Sleep(50 * time.Millisecond)
	scan("2000000000015")
	if ev := other(); ev.name != "scan" {
		t.Errorf("an id of another process: %+v, want only the live scan", ev)
	}
}

// TestEventStreamKeepAlive: an idle stream gets keep-alive comments.
func TestEventStreamKeepAlive(t *testing.T) {
	e := newEnv(t, npsRules)
	e.handler = e.handlerWithHeartbeat(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == ": keep-alive" {
			return
		}
	}
	t.Fatal("no keep-alive")
}
