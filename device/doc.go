// Package device turns what card readers and scanners see into validated card
// identities. It holds no transport code: transports (device/serial, device/fake,
// later device/pcsc and device/hidpos) implement [Reader] and register a [Factory]
// under a type name, the way database/sql drivers do, and the composition root
// opens the readers named in its configuration with [Open].
//
// The flow is
//
//	Reader.Run ──Scan──▶ Manager (debounce, supervise) ──OnScan──▶ Identify ──▶ Card
//
// A [Scan] is raw: the bytes a reader saw, tagged with what kind of thing they are
// (a contactless UID, a barcode, a magstripe track). [Identify] validates a scan
// (check digits, Luhn, UID hex) and tells a loyalty card from a product barcode.
// A [Manager] runs every configured reader, restarts the ones that fail with a
// capped, jittered backoff, suppresses repeated reads of the same card, and keeps
// per-reader [Health] for status pages and tillctl doctor.
//
// Card numbers are personal data: nothing in this package logs one in full, and
// [Mask] is what the rest of the daemon should use when it has to show one in a log.
package device
