//go:build linux

// Command guest is the program the QEMU test boots into (see ../run.sh). In a
// guest kernel with dummy_hcd and the USB gadget HID function it creates a
// USB HID POS scanner gadget, then reads it the way tilld does — a hidpos
// reader through karalabe/hid and libusb, under the device.Reader contract —
// while writing scanned-data reports to the gadget's /dev/hidg0. It checks a
// one-report EAN-13, a QR code split over two reports, and that the reader
// reopens the scanner after it is unplugged (the gadget unbound) and plugged
// in again. It prints "HIDPOS-QEMU PASS" or "HIDPOS-QEMU FAIL: why".
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/hidpos"
	"github.com/tilld/tilld/device/hidpos/hidtest"
)

const (
	gadgetDir = "/sys/kernel/config/usb_gadget/scanner"
	udc       = "dummy_udc.0"
	vid, pid  = "0x1d6b", "0x0104" // Linux Foundation, multifunction composite gadget
)

// reportDesc describes 63-byte input reports with ID 2 on the bar code
// scanner usage page: the HID POS scanned-data layout (64 bytes with the ID).
var reportDesc = []byte{
	0x05, 0x8C, // Usage Page (Bar Code Scanner)
	0x09, 0x02, // Usage (Bar Code Scanner)
	0xA1, 0x01, // Collection (Application)
	0x85, 0x02, //   Report ID (2)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8)
	0x95, 0x3F, //   Report Count (63)
	0x09, 0xFE, //   Usage (vendor-assigned data)
	0x81, 0x02, //   Input (Data, Variable, Absolute)
	0xC0, // End Collection
}

func main() {
	if err := run(); err != nil {
		fmt.Println("HIDPOS-QEMU FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("HIDPOS-QEMU PASS")
}

func run() error {
	if err := makeGadget(); err != nil {
		return fmt.Errorf("make gadget: %w", err)
	}
	if err := bind(true); err != nil {
		return err
	}
	r, err := device.Open("qemu-scanner", "hidpos", func(v any) error {
		*v.(*hidpos.Config) = hidpos.Config{Device: "1d6b:0104", Mode: "pos"}
		return nil
	})
	if err != nil {
		return err
	}
	health := make(chan error, 64)
	scans := make(chan device.Scan, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx = device.WithHealthFunc(ctx, func(err error) {
		fmt.Println("reader health:", errOrOK(err))
		health <- err
	})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func(s device.Scan) { scans <- s }) }()

	if err := waitHealth(health, true, 60*time.Second); err != nil {
		return err
	}
	qr := "https://club.example/c/2000000000008?src=app&campaign=spring-loyalty&x=" + "0123456789"
	for _, want := range []struct{ aim, data string }{{"]E0", "2000000000008"}, {"]Q1", qr}} {
		if err := send(want.aim, want.data); err != nil {
			return err
		}
		if err := expect(scans, want.data); err != nil {
			return err
		}
	}

	fmt.Println("unplugging the scanner")
	if err := bind(false); err != nil {
		return err
	}
	if err := waitHealth(health, false, 30*time.Second); err != nil {
		return err
	}
	fmt.Println("plugging it in again")
	if err := bind(true); err != nil {
		return err
	}
	if err := waitHealth(health, true, 60*time.Second); err != nil {
		return err
	}
	if err := send("]E0", "2500000000003"); err != nil {
		return err
	}
	if err := expect(scans, "2500000000003"); err != nil {
		return err
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("run after cancel: %w", err)
		}
	case <-time.After(5 * time.Second):
		return errors.New("run did not return within 5s of cancel")
	}
	return nil
}

func errOrOK(err error) string {
	if err == nil {
		return "ready"
	}
	return err.Error()
}

// makeGadget describes the scanner in configfs.
func makeGadget() error {
	steps := []struct{ path, value string }{
		{"idVendor", vid}, {"idProduct", pid},
		{"strings/0x409/manufacturer", "tilld"},
		{"strings/0x409/product", "HID POS test scanner"},
		{"strings/0x409/serialnumber", "QEMU0001"},
		{"functions/hid.usb0/protocol", "0"},
		{"functions/hid.usb0/subclass", "0"},
		{"functions/hid.usb0/report_length", "64"},
		{"functions/hid.usb0/report_desc", string(reportDesc)},
		{"configs/c.1/MaxPower", "100"},
	}
	for _, d := range []string{"", "strings/0x409", "functions/hid.usb0", "configs/c.1"} {
		if err := os.MkdirAll(filepath.Join(gadgetDir, d), 0o755); err != nil {
			return err
		}
	}
	for _, s := range steps {
		if err := os.WriteFile(filepath.Join(gadgetDir, s.path), []byte(s.value), 0o644); err != nil {
			return err
		}
	}
	return os.Symlink(filepath.Join(gadgetDir, "functions/hid.usb0"), filepath.Join(gadgetDir, "configs/c.1/hid.usb0"))
}

// bind plugs the gadget into the dummy host controller, or unplugs it.
func bind(plug bool) error {
	v := "\n"
	if plug {
		v = udc
	}
	if err := os.WriteFile(filepath.Join(gadgetDir, "UDC"), []byte(v), 0o644); err != nil {
		return fmt.Errorf("bind gadget (%v): %w", plug, err)
	}
	return nil
}

// send writes a barcode's reports to the gadget.
func send(aim, data string) error {
	f, err := os.OpenFile("/dev/hidg0", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, r := range hidtest.POSReports(hidpos.DefaultReportID, aim, []byte(data)) {
		if _, err := f.Write(r); err != nil {
			return fmt.Errorf("write report to /dev/hidg0: %w", err)
		}
	}
	return nil
}

func expect(scans <-chan device.Scan, want string) error {
	select {
	case s := <-scans:
		if s.Data != want || s.Kind != device.KindBarcode {
			return fmt.Errorf("scan %q (%s), want %q", s.Data, s.Kind, want)
		}
		fmt.Printf("scanned %d bytes: ok\n", len(s.Data))
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("no scan of %q within 30s", want)
	}
}

// waitHealth waits for a report of the device ready (ok) or failing (!ok).
func waitHealth(health <-chan error, ok bool, d time.Duration) error {
	deadline := time.After(d)
	for {
		select {
		case err := <-health:
			if (err == nil) == ok {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("no health report (ready=%v) within %v", ok, d)
		}
	}
}
