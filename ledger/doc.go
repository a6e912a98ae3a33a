// Package ledger is a terminal's durable record: one bbolt file holding every
// sale and refund event (gap-free, hash chained; RecordRefund checks a refund
// against its sale and the refunds before it inside the commit), the outbox
// of events HQ has not acknowledged yet, the idempotency index of client
// sale and refund ids, the loyalty account views the events changed, and
// the cache of rulesets. A sale is recorded in one fsynced journal
// record together with everything it changes, so after a crash or a power cut the
// ledger holds either all of a sale or none of it, and RecordSale returns only
// once its record is on disk. The journal (PATH-journal, see journal.go) is moved
// into the bbolt file at checkpoints and replayed by Open after a crash.
//
// bbolt stays inside this package: callers get domain methods, never a
// transaction. A *Ledger is safe for concurrent use. Sales recorded at the same
// time share transactions and fsyncs (group commit, see commit.go) without
// delaying a lone writer. Short reads of what sales change (accounts, events,
// the outbox) go through the transaction that holds the journaled sales and
// wait for a commit in progress; reads of what sales never write (holders,
// rulesets) read the file and wait for nothing; Verify reads the file after a
// checkpoint, in parallel with writers.
//
// # File layout (schema 5)
//
// Integer keys and values are big-endian uint64, so keys sort in numeric order.
//
//	meta      "schema" → 4, "terminal" → terminal id, "last_seq" → seq of the last
//	          event (0 when none), "last_hash" → its hash, "acked" → highest seq HQ
//	          acknowledged, "anchor_seq"/"anchor_hash" → seq and hash of the last
//	          pruned event (0 and empty when none), "active_rules" → version of
//	          the active ruleset (absent when none).
//	events    seq → event.Event as JSON, seqs anchor_seq+1..last_seq without gaps.
//	effects   seq → what the event did to its card and which sale it recorded:
//	          spend (int64), points (int64), the card's length (1 byte), the card
//	          (empty for a sale without a card), the client's sale id.
//	sales     client id → seq (8 bytes) + sha256 request digest (32 bytes),
//	          for the events kept: a sale's id as is, another type's id
//	          after its prefix ("\x00refund\x00", see kinds in kinds.go).
//	accounts  card → pos.Account: the card's view, as JSON; one with points
//	          lots as 0x01, the number of lots (uvarint), each lot in 36
//	          bytes (points, then earned and expires as the seconds,
//	          nanoseconds and offset their JSON says), then the rest as JSON
//	          (encodeAccount).
//	bases     card → seq (8 bytes) + pos.Account as in accounts: what the view
//	          starts from, complete up to that seq (an HQ snapshot, or pruned
//	          events).
//	rulesets  version → sha256 of the bytes (32), signature length (uint16),
//	          signature, the ruleset's bytes as HQ sent them.
//	holders   card → pos.CardHolder as JSON with "pending" set while HQ has not
//	          acknowledged it: the holder's personal data, beside the chain.
//	returns   sale seq → {"lines": units of each line refunds returned} for
//	          the sales that refunds returned units of, pruned or not (schema
//	          5; schema 4 dropped a sale's with it). Made by the first refund:
//	          a file without it has none.
//
// The meta also holds "journal_gen", the generation of the last journal records
// a checkpoint moved into the file (absent before the first), and "scrub_due"
// while forgotten holders are deleted and the free pages that may still hold
// them are not zeroed yet (absent otherwise: see ForgetHolders), and
// "feed_id" and "feed_after" (8 bytes), the terminal's position in HQ's
// change feed and that feed's identity (absent until SetFeedPosition), and
// "returns_kept" (8 bytes, schema 5), the last seq whose sale may have been
// pruned with its returns count: the anchor when the file was migrated from
// schema 4 or restored from HQ, else 0 (PrunedSale).
//
// The outbox is not stored as a list: it is the events after "acked", so its
// length is last_seq-acked and Pending is one cursor seek.
//
// An account view is its base plus the effects of the events after the base's
// seq; Verify rebuilds every view that way and compares. PutSnapshot sets a base
// from HQ; Prune folds the effects of the events it removes into their cards'
// bases, so pruning never changes a view.
//
// An account view with points lots (from an HQ snapshot) follows the sales: a
// sale's body lists in "lots" the lots it redeemed from (pos.LotUse), which
// lose those points, and the points it earned become a new lot.
//
// Schema 3 (testdata/v3.db) kept the accounts and bases with lots as JSON;
// Open writes them again with their lots in binary (a record with its lots
// in JSON still reads: one a schema 3 journal's replay puts back is written
// again at the card's next sale).
// Schema 2 (testdata/v2.db) kept a snapshot's Profile inside the accounts and
// bases records and left lots untouched by sales; Open moves the profiles to
// the holders bucket, rebuilds the views with lots, and zeroes the freed pages.
// Schema 1 (testdata/v1.db) had no anchor, no bases, no sale id in the effects
// and one ruleset without its signature; Open migrates it (migrate.go).
//
// # Retention
//
// Events HQ acknowledged and older than Options.Retain are pruned as HQ's
// acknowledgements arrive (Ack), or by Prune. The last pruned event's seq and
// hash stay in the meta as the chain's anchor, so what remains verifies from
// there, and an export starts with an event whose prev is the anchor's hash. A
// pruned sale's id leaves the idempotency index: retries are recognised for as
// long as their sale is kept. Freed pages are reused; Compact, offline, gives
// them back to the file system.
//
// # Failures
//
// A commit that does not reach the disk (a full disk, an I/O error) fails with
// ErrStorage (and ErrDiskFull): the open transaction is rebuilt from the journal
// without it (or bbolt rolls a checkpoint back, and the sales stay in the
// journal), nothing of it is stored, reads go on, and the next commit is tried
// afresh, so sales resume by themselves once space returns. A run of failures is
// logged once, and so is the recovery.
//
// # Damaged files
//
// bbolt trusts the pages it maps: damage can make it fault, panic or loop. Open
// therefore checks, before bbolt touches them, that the file holds every page its
// meta claims and that the pages it reads at start (the root, the meta and
// ruleset buckets, the path to the last event, the freelist) are well formed, then
// that the meta agrees with the last event. It costs a few page reads whatever the
// file's size. Anything wrong is ErrCorrupt naming the file and what to do; the
// file is left as it was. Verify walks every page the same way (every page in
// use or on the snapshot's freelist, never both; keys in order) and then checks
// every record. Damage deeper in the file than Open looks is found by Verify, not
// by Open.
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
//
// # Personal data
//
// A card holder's name, birthday and contacts live in the holders bucket only,
// never in an event, an account view or a base. ForgetHolders deletes a record
// and then overwrites every free page of the file with zeros (internal/boltscrub)
// while no transaction is open, so that no copy an earlier write left behind
// stays in the file's bytes; the chain and the views are untouched.
package ledger
