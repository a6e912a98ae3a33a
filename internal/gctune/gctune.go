// Package gctune is the garbage collector's setting of tilld, kept in one
// place so that the engine's benchmarks price under the same one.
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
	"runtime/debug"
)

const (
	// Percent is GOGC for tilld: collect once the heap has grown by 400 %
	// of what the last collection left live.
	Percent = 400
	// Limit is the soft memory limit: past it the collector runs as often
	// as needed, whatever Percent says.
	Limit = 256 << 20
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
