package daemon

import (
	"testing"

	"github.com/tilld/tilld/device"
)

func TestReaderHealth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		readers []device.Health
		n, up   int
		why     string
	}{
		{"none", nil, 0, 0, ""},
		{"all up", []device.Health{{Name: "door", State: device.StateRunning}, {Name: "desk", State: device.StateRunning, LastError: "old"}}, 2, 2, ""},
		{"one failing", []device.Health{{Name: "door", State: device.StateRunning},
			{Name: "desk", State: device.StateRestarting, LastError: "open /dev/ttyUSB0: no such file or directory"},
			{Name: "back", State: device.StateFailed, LastError: "unplugged"}}, 3, 1, "desk: open /dev/ttyUSB0: no such file or directory"},
		{"stopped, no error", []device.Health{{Name: "door", State: device.StateStopped}}, 1, 0, "door: stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, up, why := readerHealth(tc.readers)
			if n != tc.n || up != tc.up || why != tc.why {
				t.Fatalf("readerHealth = %d, %d, %q; want %d, %d, %q", n, up, why, tc.n, tc.up, tc.why)
			}
		})
	}
}
