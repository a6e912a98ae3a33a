package discount

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

// The engine must give the same answer on every terminal and at HQ, so it may
// not touch files, the network, the clock or randomness. These tests fail the
// build of anyone who makes it.

// forbidden are packages the engine and its own dependencies may not import.
// The standard library's internals (fmt reaches os, time reaches syscall) are
// not ours to police; what our code imports is.
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
	"log":           "I/O: the engine explains itself in the quote, not in logs",
	"log/slog":      "I/O: the engine explains itself in the quote, not in logs",
	"math/rand":     "randomness",
	"math/rand/v2":  "randomness",
	"crypto/rand":   "randomness",
	"runtime/debug": "no need",
}

// allowedModule are the packages of this module the engine may depend on.
var allowedModule = map[string]bool{
	"github.com/tilld/tilld/discount": true,
	"github.com/tilld/tilld/money":    true,
	"github.com/tilld/tilld/pos":      true,
}

func TestPureImports(t *testing.T) {
	gobin, err := exec.LookPath("go") // go test puts GOROOT/bin on PATH
	if err != nil {
		t.Fatalf("this test runs `go list` and needs the go command: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{join .Imports \",\"}}", ".")
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
		if !allowedModule[pkg] {
			t.Errorf("discount depends on %s; it may depend only on money, pos and the standard library", pkg)
			continue
		}
		if len(fields) < 3 {
			continue
		}
		for _, imp := range strings.Split(fields[2], ",") {
			if why, bad := forbidden[imp]; bad {
				t.Errorf("%s imports %s (%s); the pricing engine must stay pure", pkg, imp, why)
			}
		}
	}
	if seen < len(allowedModule) {
		t.Errorf("go list showed %d of our packages, want %d; is the output format still right?\n%s", seen, len(allowedModule), out)
	}
}

// clockCalls are the functions of package time that read the clock or wait.
var clockCalls = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true,
}

func TestNoClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
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
				t.Errorf("%s: time.%s: the engine takes now as a parameter and never reads the clock",
					fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
