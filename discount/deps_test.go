package discount

import (
	"path/filepath"
	"testing"

	"github.com/tilld/tilld/internal/puretest"
)

// The engine must give the same answer on every terminal and at HQ, so it may
// not touch files, the network, the clock or randomness. These tests fail the
// build of anyone who makes it.

// allowedModule are the packages of this module the engine may depend on.
var allowedModule = map[string]bool{
	"github.com/tilld/tilld/money": true,
	"github.com/tilld/tilld/pos":   true,
}

func TestPureImports(t *testing.T) {
	g, err := puretest.List(".", ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Pure("github.com/tilld/tilld/discount", func(p string) bool { return allowedModule[p] }) {
		t.Errorf("%s; the pricing engine may depend only on money, pos and the standard library, and no I/O", p)
	}
}

func TestNoClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	calls, err := puretest.ClockReads(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		t.Errorf("%s: the engine takes now as a parameter and never reads the clock", c)
	}
}
