// Package pcsc reads contactless loyalty cards on PC/SC smart card readers
// through pcscd (on Windows, the smart card service), using
// github.com/ebfe/scard. It registers itself as reader type "pcsc" with
// package device, and lists attached readers for device.Discover.
//
// A [Reader] never polls. It blocks in SCardGetStatusChange on the readers its
// configuration selects plus the PnP notification pseudo-reader, so it wakes
// only when a card comes or goes or a reader is plugged in or out. For each
// newly presented card it connects, reads the card's UID with the PC/SC GET
// DATA command (FF CA 00 00 00) — or, when configured with an AID, selects the
// loyalty application and reads the card number from it — disconnects, and
// emits one scan. A card left on the reader is read once; taking it away and
// presenting it again reads it again. When pcscd goes away (its calls fail with
// an RPC transport error, then with "Service not available") the reader
// reconnects with a capped, jittered backoff, reporting the fault with
// device.ReportHealth meanwhile.
//
// PC/SC needs cgo on Linux and macOS. A binary built with CGO_ENABLED=0 still
// accepts the "pcsc" reader type, but such a reader fails with an error
// wrapping device.ErrUnsupported.
package pcsc
