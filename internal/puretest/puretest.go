// Package puretest checks from tests which packages a package depends on:
// that a pure package (discount, analytics/clv, money, pos, event) reaches
// only the packages it is allowed and no I/O, clock or randomness, and that
// the module keeps README's package table (layers_test.go): terminal packages
// never depend on HQ's, transports never on each other. The import graph
// comes from `go list -deps -json`, so it is the one the compiler builds.
package puretest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
)

// Package is one node of the import graph.
type Package struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

// Graph is an import graph: every package by its import path.
type Graph map[string]Package

// List returns the import graph of the packages patterns name, run in dir,
// and every package they depend on (tests' imports not included).
func List(dir string, patterns ...string) (Graph, error) {
	gobin, err := exec.LookPath("go") // go test puts GOROOT/bin on PATH
	if err != nil {
		return nil, fmt.Errorf("puretest runs `go list` and needs the go command: %w", err)
	}
	cmd := exec.Command(gobin, append([]string{"list", "-deps", "-json=ImportPath,Standard,Imports"}, patterns...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", strings.Join(patterns, " "), err, stderr.String())
	}
	g := Graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list's output: %w", err)
		}
		g[p.ImportPath] = p
	}
	if len(g) == 0 {
		return nil, fmt.Errorf("go list %s listed no package", strings.Join(patterns, " "))
	}
	return g, nil
}

// Impure are the standard packages a pure package may not import, and why.
// The standard library's own internals (fmt reaches os, time reaches
// syscall) are not ours to police; what our code imports is.
var Impure = map[string]string{
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

// Deps returns the non-standard packages pkg depends on, directly or not,
// sorted; it does not look into the packages via names (nor list them).
func (g Graph) Deps(pkg string, via func(string) bool) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, imp := range g[p].Imports {
			if seen[imp] || g[imp].Standard || via != nil && via(imp) {
				continue
			}
			seen[imp] = true
			walk(imp)
		}
	}
	walk(pkg)
	deps := make([]string, 0, len(seen))
	for p := range seen {
		deps = append(deps, p)
	}
	sort.Strings(deps)
	return deps
}

// Pure checks that root depends on no non-standard package but those allowed
// says, and that neither root nor those import an Impure package. It returns
// one line per problem.
func (g Graph) Pure(root string, allowed func(string) bool) []string {
	if _, ok := g[root]; !ok {
		return []string{fmt.Sprintf("%s is not in the import graph", root)}
	}
	var problems []string
	for _, p := range append([]string{root}, g.Deps(root, nil)...) {
		if p != root && !allowed(p) {
			problems = append(problems, fmt.Sprintf("%s depends on %s, which it may not", root, p))
			continue
		}
		for _, imp := range g[p].Imports {
			if why, bad := Impure[imp]; bad {
				problems = append(problems, fmt.Sprintf("%s imports %s (%s); %s must stay pure", p, imp, why, root))
			}
		}
	}
	return problems
}

// Rule forbids packages to depend on others. Patterns are import paths
// relative to the module ("ledger"), or a path and everything below it
// ("device/...").
type Rule struct {
	Why  string   // README's reason, for the failure message
	From []string // the packages the rule binds
	Deny []string // what they may not depend on, directly or not
	Via  []string // the packages through which a dependency is allowed
}

// Check applies rules to the packages of module in g and returns one line
// per forbidden dependency, with the path of imports that leads to it.
func (g Graph) Check(module string, rules []Rule) []string {
	var problems []string
	paths := make([]string, 0, len(g))
	for p := range g {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, r := range rules {
		via := func(p string) bool { return matchAny(module, r.Via, p) }
		for _, p := range paths {
			if !matchAny(module, r.From, p) {
				continue
			}
			for _, d := range g.Deps(p, via) {
				if matchAny(module, r.Deny, d) && !matchAny(module, r.From, d) {
					problems = append(problems, fmt.Sprintf("%s depends on %s (%s): %s", p, d, strings.Join(g.chain(p, d, via), " → "), r.Why))
				}
			}
		}
	}
	return problems
}

// chain is a shortest path of imports from p to d.
func (g Graph) chain(p, d string, via func(string) bool) []string {
	prev := map[string]string{p: ""}
	queue := []string{p}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == d {
			var path []string
			for n := d; n != ""; n = prev[n] {
				path = append(path, n)
			}
			slices.Reverse(path)
			return path
		}
		for _, imp := range g[cur].Imports {
			if _, ok := prev[imp]; ok || g[imp].Standard || via(imp) {
				continue
			}
			prev[imp] = cur
			queue = append(queue, imp)
		}
	}
	return []string{p, "?", d}
}

// Match says whether the import path p is named by pattern in module.
func Match(module, pattern, p string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		full := module + "/" + base
		return p == full || strings.HasPrefix(p, full+"/")
	}
	return p == module+"/"+pattern
}

func matchAny(module string, patterns []string, p string) bool {
	for _, pat := range patterns {
		if Match(module, pat, p) {
			return true
		}
	}
	return false
}

// ClockCalls are the functions of package time that read the clock or wait.
var ClockCalls = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true,
}

// ClockReads lists, as "file:line: time.Now", every call in the Go files that
// reads the clock or waits; test files are skipped. It fails when no file
// was checked, so a wrong glob does not pass.
func ClockReads(files []string) ([]string, error) {
	fset := token.NewFileSet()
	checked := 0
	var found []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			return nil, err
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
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == timeName && ClockCalls[sel.Sel.Name] {
				found = append(found, fmt.Sprintf("%s: time.%s", fset.Position(sel.Pos()), sel.Sel.Name))
			}
			return true
		})
	}
	if checked == 0 {
		return nil, errors.New("no source files checked")
	}
	return found, nil
}
