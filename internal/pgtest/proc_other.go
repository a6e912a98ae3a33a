//go:build !linux

package pgtest

import "os/exec"

// serverUser returns nil: elsewhere than Linux the server runs as the current
// user (and refuses to start as root, saying so).
func serverUser() (*credential, error) { return nil, nil }

func runAs(*exec.Cmd, *credential) {}

// dieWithParent does nothing: only Linux stops the server when the test binary
// dies; elsewhere a killed test run can leave a server behind.
func dieWithParent(*exec.Cmd) {}
