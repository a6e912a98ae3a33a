package packaging_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/device/hidpos"
	"github.com/tilld/tilld/doctor"
)

func read(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// The udev rules give group plugdev every scanner device/hidpos knows, both as
// a USB device (what libusb opens) and as hidraw.
func TestUdevRulesCoverKnownScanners(t *testing.T) {
	rules := read(t, "tilld/60-tilld.rules")
	for _, k := range hidpos.Known {
		for _, want := range []string{
			fmt.Sprintf(`SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="%04x", GROUP="plugdev", MODE="0660"`, k.VendorID),
			fmt.Sprintf(`SUBSYSTEM=="hidraw", ATTRS{idVendor}=="%04x", GROUP="plugdev", MODE="0660"`, k.VendorID),
		} {
			if !strings.Contains(rules, want+"\n") {
				t.Errorf("%s (%s): no rule %s", k.Name, k.ID(), want)
			}
		}
	}
	for _, tty := range []string{"ttyUSB", "ttyACM"} {
		if want := fmt.Sprintf(`SUBSYSTEM=="tty", KERNEL=="%s[0-9]*", GROUP="dialout", MODE="0660"`, tty); !strings.Contains(rules, want) {
			t.Errorf("no rule %s", want)
		}
	}
}

// doctor's fixes name the files the package installs: they must be where the
// package puts them, and the unit must read the configuration doctor names.
func TestDoctorPathsAreInstalled(t *testing.T) {
	conf := read(t, "tilld/nfpm.yaml")
	dst := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  - src: (\S+)\n    dst: (\S+)$`).FindAllStringSubmatch(conf, -1) {
		dst[m[2]] = m[1]
	}
	for path, src := range map[string]string{
		doctor.ConfigFile: "packaging/tilld/tilld.toml",
		doctor.UdevRules:  "packaging/tilld/60-tilld.rules",
		doctor.PolkitRule: "packaging/tilld/polkit.rules",
	} {
		if dst[path] != src {
			t.Errorf("doctor names %s, but nfpm.yaml installs %q there (want %s); installs: %v", path, dst[path], src, dst)
		}
	}
	unit := read(t, "tilld/tilld.service")
	if want := "ExecStart=/usr/bin/tilld run --config " + doctor.ConfigFile + "\n"; !strings.Contains(unit, want) {
		t.Errorf("tilld.service lacks %q", want)
	}
	if want := "User=" + doctor.ServiceUser + "\n"; !strings.Contains(unit, want) {
		t.Errorf("tilld.service lacks %q", want)
	}
}

// The unit stops restarting on exactly the exit statuses tilld calls final.
func TestUnitRestartPreventExitStatus(t *testing.T) {
	unit := read(t, "tilld/tilld.service")
	m := regexp.MustCompile(`(?m)^RestartPreventExitStatus=(.*)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("tilld.service has no RestartPreventExitStatus")
	}
	var want []string
	for _, c := range daemon.ExitCodes {
		if c.Final {
			want = append(want, fmt.Sprint(c.Code))
		}
	}
	got := strings.Fields(m[1])
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("RestartPreventExitStatus=%s; daemon.ExitCodes calls %v final", m[1], want)
	}
}
