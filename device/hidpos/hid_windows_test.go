package hidpos

import (
	"testing"

	"github.com/karalabe/hid"
)

// TestWindowsBackend: built with cgo (mingw-w64), karalabe/hid carries
// hidapi's Windows backend, and Enumerate walks the system's HID devices
// through SetupAPI and hid.dll. Without cgo it would silently find nothing
// (hid.Supported() false). Under wine, which has no USB scanner, it must
// return without an error or a crash; reading a real scanner is argued.
func TestWindowsBackend(t *testing.T) {
	if !hid.Supported() {
		t.Fatal("hid.Supported() is false: this test binary was built without cgo (CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1)")
	}
	devs, err := hid.Enumerate(0, 0)
	if err != nil {
		t.Fatalf("Enumerate: %v", err)
	}
	t.Logf("%d HID devices", len(devs))
}
