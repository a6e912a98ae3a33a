// Command tilld is the terminal daemon: card readers → customer → priced basket →
// durable ledger → HQ. `tilld demo` runs a whole chain on loopback.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/internal/gctune"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gctune.ForLatency()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tilld:", err)
		os.Exit(daemon.ExitCodeOf(err)) // one code per class: `tilld --help` lists them
	}
}
