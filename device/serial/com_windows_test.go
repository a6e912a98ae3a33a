package serial

import (
	"io"
	"os"
	"testing"
	"time"

	tarm "github.com/tarm/serial"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/devicetest"
)

// TestCOMPort runs the reader conformance suite through Windows COM ports:
// the reader opens TILLD_WINE_COM (say COM5), the test writes into
// TILLD_WINE_COM_HOST (COM6), the two ends of a null-modem pair (com0com on
// Windows). Under wine 8.0, with COM5 and COM6 mapped to two socat ptys
// (dosdevices\com5 -> the pty), the port opens but the first read never
// returns, data or timeout, so scripts/windows-test.sh does not run it
// (the script says more).
func TestCOMPort(t *testing.T) {
	port, host := os.Getenv("TILLD_WINE_COM"), os.Getenv("TILLD_WINE_COM_HOST")
	if port == "" || host == "" {
		t.Fatal("TILLD_WINE_COM and TILLD_WINE_COM_HOST are not set: scripts/windows-test.sh sets them, with the COM ports it maps")
	}
	devicetest.TestReader(t, devicetest.Harness{
		Kind: device.KindBarcode,
		Data: []string{"2000000000008", "4006381333931", "96385074"},
		New: func(t *testing.T) (device.Reader, func(string)) {
			r := openReader(t, Config{Port: port})
			var w io.Writer
			return r, func(data string) {
				if w == nil {
					w = openCOM(t, host)
				}
				writeSlowly(t, w, data+"\r\n")
			}
		},
	})
}

func openCOM(t *testing.T, name string) io.Writer {
	t.Helper()
	p, err := tarm.OpenPort(&tarm.Config{Name: name, Baud: DefaultBaud, ReadTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
