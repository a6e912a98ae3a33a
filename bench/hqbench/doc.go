// Package hqbench measures HQ and sync end to end, for issue 6: how fast a
// terminal's queued sales drain to HQ, how fast HQ ingests from many terminals
// into PostgreSQL compared with a raw COPY, what 500 long-polling terminals cost
// HQ in memory and in the time a published ruleset takes to reach them all, and
// what an upload costs HQ while they wait. It has no code of its own, only tests
// and benchmarks:
//
//	go test ./bench/hqbench -run '^$' -bench Drain -benchtime 5x
//	go test ./bench/hqbench -run '^$' -bench Ingest -benchtime 5x
//	go test ./bench/hqbench -run '^$' -bench LongPoll -benchtime 10x
//	go test ./bench/hqbench -run '^$' -bench UploadWakeups -benchtime 100x
//
// and TestHarness, which runs every harness at small sizes in the normal
// `go test ./...` so it does not rot.
//
// Every path is the real one. Terminals talk to HQ over mutual TLS with a client
// certificate of their own, signed by HQ's CA (package pki). The drain runs the
// terminal's uploader (sync/forward) over a real ledger (package ledger) holding
// 10 000 unsynced sales, against an hq.Server on a loopback listener over the bbolt
// store and over the PostgreSQL store. Ingest posts the uploads sync/forward would
// send, from 20 terminals at once, to an hq.Server over the PostgreSQL store, and
// puts the same rows into the same table with COPY in the same run. The long-poll
// benchmarks build and run the tillhq binary, so that its memory and CPU can be
// read from /proc, and run 500 sync/forward pollers against it.
//
// PostgreSQL comes from internal/pgtest: a throwaway cluster with fsync on, as in
// production. The benchmarks report what they measure as custom metrics and never
// assert a wall-clock time; docs/benchmarks.md records the numbers and the targets.
package hqbench
