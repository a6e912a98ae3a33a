package clv

import (
	"path/filepath"
	"testing"

	"github.com/tilld/tilld/internal/puretest"
)

// HQ's reports and the terminals may both call this package, and a
// customer's figures must be the same wherever they are computed, so it
// may not touch files, the network, the clock or randomness (the same rule
// as discount's, checked by the same package).

// allowed are the non-standard packages clv and its CDNOW reader may
// depend on: themselves and Gonum's special functions (which import only
// math and math/cmplx).
var allowed = map[string]bool{
	"github.com/tilld/tilld/analytics/clv":       true,
	"github.com/tilld/tilld/analytics/clv/cdnow": true,
	"gonum.org/v1/gonum/mathext":                 true,
	"gonum.org/v1/gonum/mathext/internal/amos":   true,
	"gonum.org/v1/gonum/mathext/internal/cephes": true,
	"gonum.org/v1/gonum/mathext/internal/gonum":  true,
}

func TestPureImports(t *testing.T) {
	g, err := puretest.List(".", ".", "./cdnow")
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"github.com/tilld/tilld/analytics/clv", "github.com/tilld/tilld/analytics/clv/cdnow"} {
		for _, p := range g.Pure(root, func(p string) bool { return allowed[p] }) {
			t.Errorf("%s; clv may depend only on Gonum's mathext and the standard library, and no I/O", p)
		}
	}
	if _, ok := g["gonum.org/v1/gonum/mathext"]; !ok {
		t.Errorf("go list did not show gonum's mathext; is the output format still right?")
	}
}

func TestNoClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("cdnow/*.go")
	if err != nil {
		t.Fatal(err)
	}
	calls, err := puretest.ClockReads(append(files, more...))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		t.Errorf("%s: clv takes its days from the purchases and never reads the clock", c)
	}
}
