package clv

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// HQ's reports and the terminals may both call this package, and a
// customer's figures must be the same wherever they are computed, so it
// may not touch files, the network, the clock or randomness (the same rule
// as discount's, checked the same way).

var forbidden = map[string]string{
	"os":            "I/O",
	"os/exec":       "I/O",
	"os/signal":     "I/O",
	"io/fs":         "I/O",
	"io/ioutil":     "I/O",
	"net":           "I/O",
	"net/http":      "I/O",
	"syscall":       "I/O",
	"unsafe":        "no need",
	"log":           "I/O: results are returned, not logged",
	"log/slog":      "I/O: results are returned, not logged",
	"math/rand":     "randomness",
	"math/rand/v2":  "randomness",
	"crypto/rand":   "randomness",
	"runtime/debug": "no need",
}

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
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test runs `go list` and needs the go command: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{join .Imports \",\"}}", ".", "./cdnow")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[1] == "true" {
			continue // the standard library
		}
		pkg := fields[0]
		seen++
		if !allowed[pkg] {
			t.Errorf("clv depends on %s; it may depend only on Gonum's mathext and the standard library", pkg)
			continue
		}
		if len(fields) < 3 {
			continue
		}
		for _, imp := range strings.Split(fields[2], ",") {
			if why, bad := forbidden[imp]; bad {
				t.Errorf("%s imports %s (%s); clv must stay pure", pkg, imp, why)
			}
		}
	}
	if seen < 3 {
		t.Errorf("go list showed %d non-standard packages, want at least clv, cdnow and mathext; is the output format still right?\n%s", seen, out)
	}
}

var clockCalls = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true,
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
	fset := token.NewFileSet()
	checked := 0
	for _, name := range append(files, more...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		timeName := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"time"` {
				timeName = "time"
				if imp.Name != nil {
					timeName = imp.Name.Name
				}
			}
		}
		if timeName == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == timeName && clockCalls[sel.Sel.Name] {
				t.Errorf("%s: time.%s: clv takes its days from the purchases and never reads the clock",
					fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if checked < 2 {
		t.Fatal("no source files checked")
	}
}
