// Package ledger is a terminal's durable record: one bbolt file holding every sale
// event (gap-free, hash chained), the outbox of events HQ has not acknowledged yet,
// the idempotency index of client sale ids, the loyalty account views the sales
// changed, and the active ruleset. A sale is recorded in one fsynced transaction
// together with everything it changes, so after a crash or a power cut the file
// holds either all of a sale or none of it.
//
// bbolt stays inside this package: callers get domain methods, never a
// transaction. A *Ledger is safe for concurrent use; writers are serialized by
// bbolt's single write transaction, readers run in parallel with them.
//
// # File layout (schema 1)
//
// Integer keys and values are big-endian uint64, so keys sort in numeric order.
//
//	meta      "schema" → 1, "terminal" → terminal id, "last_seq" → seq of the last
//	          event (0 when none), "last_hash" → its hash, "acked" → highest seq HQ
//	          acknowledged.
//	events    seq → event.Event as JSON, seqs 1..last_seq without gaps.
//	effects   seq → what the event did to its card: spend (int64), points (int64),
//	          then the card bytes (empty for a sale without a card). Verify rebuilds
//	          the accounts from these and checks each card against the event body.
//	sales     client sale id → seq (8 bytes) + sha256 request digest (32 bytes).
//	accounts  card → pos.Account as JSON.
//	rules     "version" → ruleset version, "raw" → ruleset bytes, "hash" → sha256 hex.
//
// The outbox is not stored as a list: it is the events after "acked", so its
// length is last_seq-acked and Pending is one cursor seek.
//
// # Damaged files
//
// bbolt trusts the pages it maps: damage can make it fault, panic or loop. Open
// therefore checks, before bbolt touches them, that the file holds every page its
// meta claims and that the pages it reads at start (the root, meta and rules
// buckets, the path to the last event, the freelist) are well formed, then that
// the meta agrees with the last event. It costs a few page reads whatever the
// file's size. Anything wrong is ErrCorrupt naming the file; the file is left as
// it was. Verify walks every page the same way and then checks every record.
// Damage deeper in the file than Open looks is found by Verify, not by Open.
//
// # Event ids and bodies
//
// An event's ID is "<terminal>-<seq>", for example "T042-17". Terminal ids may not
// be empty and use only letters, digits, '.', '_' and '-'; the seq is the part
// after the last '-', so the id is unique across terminals.
//
// A sale event's Body is the caller's JSON stored in canonical form: compacted, with
// <, >, & and U+2028/U+2029 escaped exactly as encoding/json's Marshal writes them.
// Re-encoding an Event with encoding/json therefore never changes its Body, and its
// hash stays valid wherever it travels.
package ledger
