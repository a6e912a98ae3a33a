// Package gctune is the Go runtime's setting of tilld, kept in one place so
// that the engine's benchmarks price under the same collector: the garbage
// collector's (ForLatency) and, for the daemon, the scheduler's (ForDaemon).
//
// A till's heap is small (the compiled rules, caches of a few thousand
// cards) and each sale allocates its quote and its JSON: at Go's default
// GOGC=100 a heap of a few MiB is collected every few hundred sales, and a
// sale that meets a collection's marking pays for it in its latency (the
// engine's p99 was 4.5× its p50 with the default, 2.2–3× at 400; see
// docs/benchmarks.md "Engine allocations"). Letting the heap grow to five
// times what is live before collecting makes collections rarer, at a cost of
// memory a till has, and a soft memory limit keeps that growth bounded.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
)

const (
	// Percent is GOGC for tilld: collect once the heap has grown by 400 %
	// of what the last collection left live.
	Percent = 400
	// Limit is the soft memory limit: past it the collector runs as often
	// as needed, whatever Percent says.
	Limit = 256 << 20

	// Procs is GOMAXPROCS for the daemon: one thread runs its Go code at a
	// time. A till serves one cashier, and its Go work per sale is a
	// fraction of the sale's fsync; with a second P the runtime wakes an
	// idle thread on another core (a futex, and on a VM an interrupt
	// between vCPUs) each time a goroutine becomes ready, and that thread
	// spins looking for work on the core the POS app and the customer
	// screen's browser want. With one P tilld switches threads a fifth
	// less often and a sale's p50 through the local API is ≈ 6 % lower on
	// a 2-vCPU machine (docs/benchmarks.md, "Stop 28"); 8 concurrent POS
	// clients get a fifth less throughput, which a till does not use.
	// System calls (the fsync, the card readers' cgo calls) still run
	// beside it: the runtime hands the P to another thread while one
	// blocks.
	Procs = 1
)

// ForLatency sets Percent and Limit, unless the environment sets GOGC or
// GOMEMLIMIT, which stay the operator's to choose.
func ForLatency() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(Percent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(Limit)
	}
}

// ForDaemon sets GOMAXPROCS to Procs, unless the environment sets
// GOMAXPROCS, which stays the operator's to choose (`systemctl edit tilld`).
// Only `tilld run` calls it: `tilld demo` and the tools keep the default.
func ForDaemon() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(Procs)
	}
}
