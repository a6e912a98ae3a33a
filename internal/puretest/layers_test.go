package puretest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/tilld/tilld"

// terminal are the packages that run on a till: none of them may reach HQ's
// code, or a till would carry (and could call) the server side.
var terminal = []string{"device/...", "ledger/...", "till", "daemon", "localapi", "sync/forward", "sync/hqclient", "doctor", "cmd/tilld", "cmd/tillctl"}

// transports are the reader transports: each is one kind of hardware and
// knows nothing of the others.
var transports = []string{"device/serial", "device/pcsc", "device/hidpos", "device/fake"}

// Layers is README's package table as rules.
func Layers() []Rule {
	rules := []Rule{{
		Why:  "terminal packages never depend on HQ's (README, reading the source); `tilld demo` runs an HQ in the same process through package demo, the one way",
		From: terminal,
		Deny: []string{"hq/..."},
		Via:  []string{"demo"},
	}}
	for _, tr := range transports {
		var others []string
		for _, o := range transports {
			if o != tr {
				others = append(others, o+"/...")
			}
		}
		rules = append(rules, Rule{Why: "a transport never depends on another transport (they register with device; cmd picks them)",
			From: []string{tr + "/..."}, Deny: others})
	}
	return rules
}

// pure are the leaf packages and the module packages each may depend on:
// besides these, the standard library only, and none of its I/O.
var pure = map[string][]string{
	"money": nil,
	"pos":   {"money"},
	"event": {"money", "pos"},
}

// moduleRoot is the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// TestLayers enforces README's package table on the module as it builds.
func TestLayers(t *testing.T) {
	root := moduleRoot(t)
	g, err := List(root, "./...")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Check(module, Layers()) {
		t.Error(p)
	}
	for pkg, allowed := range pure {
		ok := map[string]bool{}
		for _, a := range allowed {
			ok[module+"/"+a] = true
		}
		for _, p := range g.Pure(module+"/"+pkg, func(p string) bool { return ok[p] }) {
			t.Errorf("%s (README: %s stays pure: the standard library and %v only)", p, pkg, allowed)
		}
	}
	// The rules bind real packages: a renamed one must not leave a rule
	// that checks nothing.
	for _, pat := range append(append([]string{"hq/...", "demo"}, terminal...), transports...) {
		found := false
		for p := range g {
			found = found || Match(module, pat, p)
		}
		if !found {
			t.Errorf("README's rule names %s, which matches no package of the module", pat)
		}
	}
}

// TestREADMEListsEveryPackage: the package table in README.md names every
// package of the module, itself or by a parent named with "/..." or whose
// row names it.
func TestREADMEListsEveryPackage(t *testing.T) {
	root := moduleRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	table := packageTable(string(readme))
	if len(table) == 0 {
		t.Fatal("README.md has no package table (| package | owns |)")
	}
	g, err := List(root, "./...")
	if err != nil {
		t.Fatal(err)
	}
	for p := range g {
		rel, ok := strings.CutPrefix(p, module+"/")
		if !ok {
			continue
		}
		if !listed(table, rel) {
			t.Errorf("README's package table does not name %s", rel)
		}
	}
}

// packageTable returns every `name` in the first column of README's table
// whose header is "| package | owns |".
func packageTable(readme string) map[string]bool {
	names := map[string]bool{}
	in := false
	tick := regexp.MustCompile("`([^`]+)`")
	for l := range strings.Lines(readme) {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "| package | owns |"):
			in = true
		case in && !strings.HasPrefix(l, "|"):
			return names
		case in:
			cols := strings.Split(l, "|")
			if len(cols) < 3 {
				continue
			}
			for _, m := range tick.FindAllStringSubmatch(cols[1], -1) {
				names[m[1]] = true
			}
		}
	}
	return names
}

// listed says whether rel is named in table, or a parent of it is named with
// "/..." (device/hidpos/hidtest under device/...).
func listed(table map[string]bool, rel string) bool {
	if table[rel] {
		return true
	}
	for p := rel; p != "."; p = filepath.Dir(p) {
		if table[p+"/..."] {
			return true
		}
	}
	return false
}

// A test of the test: the checker finds an upward import, a transport that
// imports another, an impure leaf, and lets the demo's way through.
func TestCheckFindsForbiddenImports(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	g := Graph{
		m("till"):             {ImportPath: m("till"), Imports: []string{m("ledger"), "fmt"}},
		m("ledger"):           {ImportPath: m("ledger"), Imports: []string{m("hq/facts")}}, // upward, two steps from till
		m("hq/facts"):         {ImportPath: m("hq/facts")},
		m("cmd/tilld"):        {ImportPath: m("cmd/tilld"), Imports: []string{m("demo")}},
		m("demo"):             {ImportPath: m("demo"), Imports: []string{m("hq/facts")}},
		m("device/serial"):    {ImportPath: m("device/serial"), Imports: []string{m("device/pcsc/apdu")}},
		m("device/pcsc/apdu"): {ImportPath: m("device/pcsc/apdu")},
		m("device/pcsc"):      {ImportPath: m("device/pcsc"), Imports: []string{m("device/pcsc/apdu")}},
		m("money"):            {ImportPath: m("money"), Imports: []string{"os"}},
		"fmt":                 {ImportPath: "fmt", Standard: true},
		"os":                  {ImportPath: "os", Standard: true},
	}
	got := strings.Join(g.Check(module, Layers()), "\n")
	for _, want := range []string{
		m("till") + " depends on " + m("hq/facts") + " (" + m("till") + " → " + m("ledger") + " → " + m("hq/facts") + ")",
		m("ledger") + " depends on " + m("hq/facts"),
		m("device/serial") + " depends on " + m("device/pcsc/apdu"),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Check missed %q; it said:\n%s", want, got)
		}
	}
	for _, wrong := range []string{m("cmd/tilld") + " depends", m("device/pcsc") + " depends"} {
		if strings.Contains(got, wrong) {
			t.Errorf("Check flagged an allowed dependency (%s...):\n%s", wrong, got)
		}
	}
	if p := g.Pure(m("money"), func(string) bool { return false }); len(p) != 1 || !strings.Contains(p[0], "imports os (I/O)") {
		t.Errorf("Pure(money importing os) = %q", p)
	}
}

// The same through `go list` on a module of its own: a terminal package
// that imports an HQ package fails the check.
func TestCheckOnAModule(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":             "module " + module + "\n\ngo 1.26\n",
		"hq/hq.go":           "package hq\n\nfunc Serve() {}\n",
		"till/till.go":       "package till\n\nimport \"" + module + "/hq\"\n\nfunc Sell() { hq.Serve() }\n",
		"money/money.go":     "package money\n\nimport \"os\"\n\nvar Home = os.Getenv(\"HOME\")\n",
		"device/fake/f.go":   "package fake\n\nimport _ \"" + module + "/device/serial\"\n",
		"device/serial/s.go": "package serial\n",
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g, err := List(dir, "./...")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(g.Check(module, Layers()), "\n")
	for _, want := range []string{module + "/till depends on " + module + "/hq", module + "/device/fake depends on " + module + "/device/serial"} {
		if !strings.Contains(got, want) {
			t.Errorf("Check on the module missed %q; it said:\n%s", want, got)
		}
	}
	if p := g.Pure(module+"/money", func(string) bool { return false }); len(p) != 1 {
		t.Errorf("Pure(money importing os) = %q", p)
	}
}

func TestClockReads(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.go")
	if err := os.WriteFile(src, []byte("package a\n\nimport clock \"time\"\n\nvar T = clock.Now()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ClockReads([]string{src})
	if err != nil || len(got) != 1 || !strings.Contains(got[0], "a.go:5:9: time.Now") {
		t.Errorf("ClockReads = %q, %v", got, err)
	}
	if _, err := ClockReads([]string{filepath.Join(dir, "a_test.go")}); err == nil {
		t.Error("ClockReads checked no file and did not say so")
	}
}
