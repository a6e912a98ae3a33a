package hq_test

import (
	"crypto/ed25519"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/sync/wire"
)

// TestStalledUploadsHoldLittle: clients that declare a 32 MiB upload and
// send one byte hold no 32 MiB each: a body's buffer grows as its bytes
// come beyond what an upload of a thousand sales needs.
func TestStalledUploadsHoldLittle(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	ts := httptest.NewServer(hq.NewServer(hq.Options{Store: store, SigningKey: key}).Handler())
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")

	runtime.GC()
	var before, during runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 20
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", wire.PathUpload, addr, 32<<20)
	}
	time.Sleep(300 * time.Millisecond)
	runtime.ReadMemStats(&during)
	if grew := int64(during.HeapInuse) - int64(before.HeapInuse); grew > 64<<20 {
		t.Errorf("%d uploads that declared 32 MiB and sent a byte: the heap grew by %d MiB", n, grew>>20)
	}
}
