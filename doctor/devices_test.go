package doctor

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestPCSC(t *testing.T) {
	seen := func(names ...string) func(context.Context) ([]string, error) {
		return func(context.Context) ([]string, error) { return names, nil }
	}
	noService := func(context.Context) ([]string, error) {
		return nil, errors.New("establish context: Service not available (0x8010001D)")
	}
	tests := []struct {
		name                string
		list                func(context.Context) ([]string, error)
		want                []string
		status              Status
		wantDetail, wantFix string
	}{
		{"readers seen", seen("ACS ACR122U PICC Interface 00 00", "Virtual PCD 00 00"), nil, OK,
			"readers: ACS ACR122U PICC Interface 00 00, Virtual PCD 00 00", ""},
		{"wanted reader seen", seen("ACS ACR122U PICC Interface 00 00"), []string{"ACS ACR122U*"}, OK, "ACR122U", ""},
		{"wanted reader by whole name", seen("Virtual PCD 00 00", "Virtual PCD 00 01"), []string{"Virtual PCD 00 01"}, OK, "Virtual PCD 00 01", ""},
		{"any reader wanted", seen("Virtual PCD 00 00"), []string{""}, OK, "Virtual PCD 00 00", ""},
		{"any reader wanted, none seen", seen(), []string{""}, Fail, "no reader matching any name; pcscd sees: none", "pcsc_scan"},
		{"pcscd down", noService, nil, Fail, "pcscd not reachable: establish context: Service not available",
			"systemctl enable --now pcscd.socket"},
		{"pcscd down names the polkit rule", noService, nil, Fail, "not reachable", PolkitRule},
		{"no readers at all", seen(), nil, Warn, "pcscd answers but sees no readers", "pcsc_scan"},
		{"wanted reader missing", seen("Virtual PCD 00 00"), []string{"ACS ACR122U*", "Virtual*"}, Fail,
			`no reader matching "ACS ACR122U*"; pcscd sees: Virtual PCD 00 00`, "plug the reader in"},
		{"wanted reader, none seen", seen(), []string{"ACS ACR122U PICC Interface 00 00"}, Fail, `no reader matching "ACS ACR122U PICC Interface 00 00"; pcscd sees: none`, ConfigFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := PCSC(tt.list, PCSCOptions{Want: tt.want})
			checkResult(t, c.Run(context.Background()), tt.status, tt.wantDetail, tt.wantFix)
		})
	}
}

func TestHID(t *testing.T) {
	dir := t.TempDir()
	node := touch(t, dir, "004", 0o664) // a USB device file before the udev rule
	dialout := chgrpDialout(t, node)    // any non-root group will do
	locked := touch(t, dir, "005", 0o000)
	outsider := Identity{Name: "tilld", UID: 4242, GIDs: []int{4242}}
	member := Identity{Name: "tilld", UID: 4242, GIDs: []int{4242, dialout.gid}}
	scanner := HIDDevice{VendorID: 0x0c2e, ProductID: 0x0b61, Product: "Honeywell 1900"}
	list := func(devs ...HIDDevice) func(context.Context) ([]HIDDevice, error) {
		return func(context.Context) ([]HIDDevice, error) { return devs, nil }
	}
	with := func(d HIDDevice, node string) HIDDevice { d.Node = node; return d }
	other := HIDDevice{VendorID: 0x046d, ProductID: 0xc52b, Node: locked}

	tests := []struct {
		name                string
		device              string // "": 0c2e:0b61
		enumerate           func(context.Context) ([]HIDDevice, error)
		user                Identity
		status              Status
		wantDetail, wantFix string
	}{
		{"present, node unknown", "", list(other, scanner), outsider, OK, "0c2e:0b61 (Honeywell 1900) present", ""},
		{"any scanner", "any", list(scanner), outsider, OK, "0c2e:0b61 (Honeywell 1900) present", ""},
		{"any scanner, none there", "any", list(), outsider, Fail, "HID scanner (any known model) missing", "lsusb"},
		{"bad device setting", "0c2e-0b61", list(scanner), outsider, Fail, `reader "front": device "0c2e-0b61" is not a USB vid:pid`, "fix the device setting"},
		{"device setting out of range", "0c2e:10000", list(scanner), outsider, Fail, "is not a USB vid:pid", "lsusb"},
		{"present and usable", "", list(with(scanner, node)), member, OK, "present, user tilld opens " + node, ""},
		{"not in the device's group", "", list(with(scanner, node)), outsider, Fail,
			"HID scanner 0c2e:0b61 (Honeywell 1900): user tilld may not open " + node + " (-rw-rw-r-- ", "add user tilld to group " + dialout.name},
		{"chmod 000 device file", "", list(with(scanner, locked)), member, Fail, "may not open " + locked,
			"udev rule " + UdevRules + " gives group plugdev read-write access to HID POS scanners"},
		{"unplugged", "", list(other), outsider, Fail, "HID scanner 0c2e:0b61 missing: is it plugged in?",
			`set the device setting of reader "front" in ` + ConfigFile},
		{"unplugged while checking", "", list(with(scanner, filepath.Join(dir, "006"))), outsider, Fail, "vanished: unplugged just now?", "plug it back in"},
		{"cannot enumerate", "", func(context.Context) ([]HIDDevice, error) { return nil, errors.New("hid: not supported in this build") }, outsider, Fail,
			"cannot list USB HID devices: hid: not supported", "cgo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			device := tt.device
			if device == "" {
				device = "0c2e:0b61"
			} else if device == "any" {
				device = ""
			}
			c := HID("front", device, tt.enumerate, HIDOptions{User: tt.user})
			if c.Name != "hid front" {
				t.Errorf("name %q", c.Name)
			}
			checkResult(t, c.Run(context.Background()), tt.status, tt.wantDetail, tt.wantFix)
		})
	}
}
