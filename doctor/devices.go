package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// PCSCOptions configure [PCSC]. The zero value asks only that pcscd answers.
type PCSCOptions struct {
	// Want are the reader settings of the configuration's pcsc readers, each
	// of which must select a reader pcscd sees: a whole reader name, a prefix
	// ending in "*", or "" for any reader.
	Want []string
}

// PCSC checks that pcscd answers and sees the wanted readers. list returns the
// names of the readers pcscd knows (an empty list, not an error, when it knows
// none); cmd/tillctl passes a function over the PC/SC API.
func PCSC(list func(ctx context.Context) ([]string, error), opts PCSCOptions) Check {
	return Check{Name: "pcscd", Run: func(ctx context.Context) Result {
		readers, err := list(ctx)
		if err != nil {
			return Result{Status: Fail,
				Detail: fmt.Sprintf("pcscd not reachable: %v", err),
				Fix:    pcscUnreachableFix()}
		}
		var missing []string
		for _, w := range opts.Want {
			found := false
			for _, r := range readers {
				found = found || selects(w, r)
			}
			if !found && w == "" {
				missing = append(missing, "any name")
			} else if !found {
				missing = append(missing, fmt.Sprintf("%q", w))
			}
		}
		seen := "none"
		if len(readers) > 0 {
			seen = strings.Join(readers, ", ")
		}
		fix := pcscNoReaderFix
		switch {
		case len(missing) > 0:
			return Result{Status: Fail, Detail: fmt.Sprintf("no reader matching %s; pcscd sees: %s", strings.Join(missing, ", "), seen),
				Fix: fix + fmt.Sprintf(" If it shows under another name, fix the reader setting in %s.", ConfigFile)}
		case len(readers) == 0:
			return Result{Status: Warn, Detail: "pcscd answers but sees no readers", Fix: fix}
		}
		return Result{Status: OK, Detail: "readers: " + seen}
	}}
}

// selects reports whether a pcsc reader setting (a whole name, a prefix ending
// in "*", or "" for any) selects the reader called name.
func selects(setting, name string) bool {
	switch {
	case setting == "":
		return true
	case strings.HasSuffix(setting, "*"):
		return strings.HasPrefix(name, strings.TrimSuffix(setting, "*"))
	}
	return name == setting
}

// HIDDevice is a USB HID device as an enumeration sees it.
type HIDDevice struct {
	VendorID, ProductID uint16
	Product             string
	// Node is its USB device file (/dev/bus/usb/BBB/DDD), which the HID
	// transport opens through libusb; empty when unknown, and then the access
	// check is skipped.
	Node string
}

// HIDOptions configure [HID]. The zero value checks access for the user
// running the check.
type HIDOptions struct {
	// User is who must be able to open the device: the tilld service user.
	// Zero means the user running the check.
	User Identity
}

// HID checks that the HID POS scanner of the reader named reader is plugged
// in and that opts.User may open its device file. device is the reader's
// device setting, the scanner's USB "vid:pid" in hex; empty means any scanner
// enumerate returns. enumerate lists the USB HID scanners present; cmd/tillctl
// passes a function over the HID transport's discovery.
func HID(reader, device string, enumerate func(ctx context.Context) ([]HIDDevice, error), opts HIDOptions) Check {
	return Check{Name: "hid " + reader, Run: func(ctx context.Context) Result {
		var vid, pid uint16
		if device != "" {
			var err error
			if vid, pid, err = parseUSBID(device); err != nil {
				return Result{Status: Fail, Detail: fmt.Sprintf("reader %q: device %q is not a USB vid:pid such as \"1eab:1310\"", reader, device),
					Fix: fmt.Sprintf("fix the device setting of reader %q in %s: %s shows the id.", reader, ConfigFile, usbList)}
			}
		}
		devs, err := enumerate(ctx)
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("cannot list USB HID devices: %v", err),
				Fix: "tilld and tillctl need a build with cgo for HID scanners (the Debian package and the .msi have it); " + usbList + " lists the devices meanwhile."}
		}
		var dev *HIDDevice
		for i := range devs {
			if device == "" || devs[i].VendorID == vid && devs[i].ProductID == pid {
				dev = &devs[i]
				break
			}
		}
		id := device
		if id == "" {
			id = "(any known model)"
		}
		if dev == nil {
			return Result{Status: Fail,
				Detail: fmt.Sprintf("HID scanner %s missing: is it plugged in?", id),
				Fix: fmt.Sprintf("plug it in; %s lists what is connected. If the scanner shows there under another id, "+
					"set the device setting of reader %q in %s to it.", usbList, reader, ConfigFile)}
		}
		id = fmt.Sprintf("%04x:%04x", dev.VendorID, dev.ProductID)
		name := id
		if dev.Product != "" {
			name = fmt.Sprintf("%s (%s)", id, dev.Product)
		}
		if dev.Node == "" {
			return Result{Status: OK, Detail: name + " present"}
		}
		fi, err := os.Stat(dev.Node)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return Result{Status: Fail, Detail: fmt.Sprintf("HID scanner %s: its device file %s vanished: unplugged just now?", name, dev.Node), Fix: "plug it back in and run tillctl doctor again."}
			}
			return Result{Status: Fail, Detail: fmt.Sprintf("HID scanner %s: %v", name, err), Fix: "unplug and replug the scanner."}
		}
		user := opts.User.orSelf()
		if a := user.mayReadWrite(fi); !a.ok {
			return Result{Status: Fail,
				Detail: fmt.Sprintf("HID scanner %s: %s may not open %s (%s)", name, user, dev.Node, a.describe()),
				Fix:    permissionFix(user, a, "plugdev", "HID POS scanners on USB"),
			}
		}
		return Result{Status: OK, Detail: fmt.Sprintf("%s present, %s opens %s", name, user, dev.Node)}
	}}
}

// parseUSBID parses a USB "vid:pid" in hex, as the hidpos reader's device
// setting has it.
func parseUSBID(s string) (vid, pid uint16, err error) {
	v, p, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%q: no colon", s)
	}
	vv, err := strconv.ParseUint(v, 16, 16)
	if err != nil {
		return 0, 0, err
	}
	pp, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return 0, 0, err
	}
	return uint16(vv), uint16(pp), nil
}
