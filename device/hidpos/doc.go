// Package hidpos reads USB barcode scanners through HID, using
// github.com/karalabe/hid (hidapi over its bundled libusb on Linux). It
// registers itself as reader type "hidpos" with package device and lists
// attached HID devices for device.Discover.
//
// Scanners speak one of two dialects:
//
//   - HID POS (usage page 0x8C, bar code scanner): each barcode arrives in
//     scanned-data input reports — report ID, length, AIM symbology
//     identifier, up to 56 data bytes, and a flag saying more reports follow.
//     [POSDecoder] reassembles them.
//   - Keyboard emulation: the scanner types the barcode as a USB boot
//     keyboard, 8-byte reports of modifier bits and pressed keys' usage IDs.
//     [KeyboardDecoder] decodes usage IDs itself (as the US layout scanners
//     assume), so the terminal's keyboard layout cannot garble a card number,
//     and since hidapi detaches the kernel's driver from the interface, the
//     digits never reach whatever window has focus.
//
// Linux reports usage page 0 for every device through libusb, so scanners are
// selected by USB vendor and product ID (and interface), from the
// configuration or from a built-in table of known scanners ([Known]).
//
// A [Reader] reads with a timeout (never a blocking read, which cannot be
// interrupted safely) and closes the device only between reads. When the
// scanner is unplugged it looks for it again with a capped backoff and
// reopens it when it returns, reporting the fault with device.ReportHealth
// meanwhile. With no scanner attached it enumerates every few seconds and
// otherwise sleeps.
//
// hidapi needs cgo: in a binary built with CGO_ENABLED=0 the library is a stub
// (hid.Supported() is false), and a hidpos reader fails with an error wrapping
// device.ErrUnsupported instead of reading.
package hidpos
