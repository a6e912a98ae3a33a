package localapi_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/serve"
)

// TestSlowAndLargeBodies: over a real listener, clients that say a
// megabyte is coming and send one byte hold no megabyte each and get 408
// once the body's time is up; a body over the limit gets 413.
func TestSlowAndLargeBodies(t *testing.T) {
	defer localapi.SetBodyTimeout(500 * time.Millisecond)()
	e := newEnv(t, tiersOnly)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go serve.HTTP(ctx, ln, e.handler, time.Second)
	var cookie string
	for _, c := range e.serve(http.MethodGet, "/", "", "127.0.0.1:5000", nil).Result().Cookies() {
		if c.Name == "tilld_page" {
			cookie = c.Name + "=" + c.Value
		}
	}

	runtime.GC()
	var before, during runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 100
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/feedback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nCookie: %s\r\nContent-Length: 1048576\r\n\r\n{", cookie)
		conns[i] = c
	}
	time.Sleep(200 * time.Millisecond)
	runtime.ReadMemStats(&during)
	if grew := int64(during.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
		t.Errorf("%d clients that said a megabyte and sent a byte: the heap grew by %d MiB", n, grew>>20)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("stalled client %d: %v, want an answer once the body's time is up", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("stalled client %d: %d, want 408", i, resp.StatusCode)
		}
	}

	big := `{"lines":[{"sku":"` + strings.Repeat("x", 2<<20) + `","qty":1,"unit_price":1}]}`
	code, msg := e.post(t, "/v1/quote", big)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "more than 1048576 bytes") {
		t.Errorf("a body of 2 MiB: %d %s, want 413 naming the limit", code, msg)
	}
}
