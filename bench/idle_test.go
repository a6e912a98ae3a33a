package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/hidpos"
	"github.com/tilld/tilld/device/pcsc"
	"github.com/tilld/tilld/device/pcsc/vpcdtest"
	"github.com/tilld/tilld/device/serial"
)

// idleWindow is how long TestIdleCPU measures.
const idleWindow = 10 * time.Second

// maxIdleCPU is the share of one CPU the readers may use while idle.
const maxIdleCPU = 0.01

// TestIdleCPU runs a serial, a PC/SC and a HID reader — the HID one with no
// scanner attached, so it keeps looking for one — with the till and an event
// stream subscriber, and measures the CPU time this process uses over 10 s
// in which nothing is scanned.
func TestIdleCPU(t *testing.T) {
	pty := newPTYPair(t)
	ser, err := serial.New("front", serial.Config{Port: pty.Device})
	if err != nil {
		t.Fatal(err)
	}
	vpcdtest.Start(t)
	pc, err := pcsc.New("counter", pcsc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	hp, err := hidpos.New("hid", hidpos.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, map[string]device.Reader{"serial": ser, "pcsc": pc, "hidpos": hp})
	// serial and pcsc come up running; hidpos reports its missing scanner.
	deadline := time.Now().Add(10 * time.Second)
	for {
		states := map[string]device.State{}
		for _, h := range s.mgr.Status() {
			states[h.Name] = h.State
		}
		if states["serial"] == device.StateRunning && states["pcsc"] == device.StateRunning &&
			(states["hidpos"] == device.StateFailed || states["hidpos"] == device.StateRestarting) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readers did not settle: %+v", s.mgr.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // let start-up work finish

	before, err := cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(idleWindow)
	after, err := cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	used, wall := after-before, time.Since(start)
	share := used.Seconds() / wall.Seconds()
	t.Logf("idle CPU with serial, PC/SC and HID readers: %v in %v = %.3f%% of one CPU; readers: %+v",
		used, wall.Round(time.Millisecond), 100*share, s.mgr.Status())
	if share > maxIdleCPU {
		t.Errorf("idle CPU %.3f%% of one CPU, want under %.0f%%", 100*share, 100*maxIdleCPU)
	}
}

// cpuTime is the user+system CPU time of this process so far, from /proc/self/stat.
func cpuTime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/self/stat: no ')' in %q", b)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/self/stat: %d fields after the name, want at least 13", len(f))
	}
	// Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the name.
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/self/stat: utime %q, stime %q", f[11], f[12])
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
