// Package ledgerbench has no code, only benchmarks that set the ledger's commit
// beside its alternatives on the same disk, in one run:
//
//	go test -run '^$' -bench . -benchtime 3000x ./ledger/ledgerbench
//
// BenchmarkCommit: one sale's commit from a lone writer, through the ledger, as a
// bare bbolt Update writing the same keys and values, as one 4 KiB write and
// fdatasync, and as an SQLite insert of the same event (WAL, synchronous=FULL);
// BenchmarkCommitInterleaved runs the four round-robin, so that noise from other
// work on the machine hits them alike, and reports the ratios.
// BenchmarkWriters: sales per second from 1 and from 8 concurrent writers,
// through the ledger and through SQLite. BenchmarkWritersInterleaved: the
// ledger's 8-to-1 ratio in a steady state (checkpoints included), the two
// sides alternating round by round so that the disk's drift hits both, with
// the benchmarks' simple pricing and with a sale through till.Sale.
// scripts/bench-slow-disk.sh runs them on till-class storage: the kernel
// throttles the benchmark's writes to the disk (cgroup block I/O).
// BenchmarkMillion: Open, commit, quote and account lookup on a fresh ledger and
// on one of a million sales (built once per run with NoSync; about a gigabyte in the
// temporary directory; skipped with -short).
//
// Each reports the median of the per-operation durations as p50-µs (and p99-µs),
// besides Go's mean ns/op. The SQLite driver lives here, not in package ledger,
// so that it weighs on no other build.
package ledgerbench
