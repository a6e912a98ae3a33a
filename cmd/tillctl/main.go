// Command tillctl is store IT's and support's tool on a terminal: it talks to the
// local tilld over its API (status, devices, quote, sale, accounts, scans).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tillctl:", err)
		os.Exit(1)
	}
}
