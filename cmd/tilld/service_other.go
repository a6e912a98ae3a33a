//go:build !windows

package main

import (
	"log/slog"

	"github.com/spf13/cobra"
)

// Outside Windows systemd runs tilld (packaging/tilld/tilld.service): no
// service command, no second log handler.
func platformCommands() []*cobra.Command { return nil }

var serviceLog slog.Handler
