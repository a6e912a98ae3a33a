// Command fuzzsummary reads the output of the fuzz runs scripts/fuzz-long.sh
// made and writes their summary table — per target: status, execs, execs/s,
// new interesting inputs, findings — to stdout and into docs/fuzzing.md,
// between its summary markers (the rest of the page is left as it is).
//
//	go run ./scripts/fuzzsummary -logs DIR [-fuzztime 10m] [-jobs 2] [-doc docs/fuzzing.md | -doc -]
//
// DIR holds "targets" (one "package Target" a line) and, for each target,
// <package with / as _>.<Target>.log (go test -fuzz's output) and .rc (its exit
// status).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzsummary:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fuzzsummary", flag.ContinueOnError)
	logs := fs.String("logs", "", "directory of the fuzz runs' output (required)")
	fuzztime := fs.String("fuzztime", "", "the -fuzztime of the runs, for the table's heading")
	jobs := fs.Int("jobs", 0, "how many targets ran at a time, for the heading")
	doc := fs.String("doc", "docs/fuzzing.md", `page to write the table into, between its markers; "-": stdout only`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *logs == "" {
		return errors.New("-logs is required")
	}
	list, err := os.ReadFile(filepath.Join(*logs, "targets"))
	if err != nil {
		return err
	}
	var results []result
	for i, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		pkg, target, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			return fmt.Errorf("%s line %d: want \"package Target\", got %q", filepath.Join(*logs, "targets"), i+1, line)
		}
		base := filepath.Join(*logs, strings.ReplaceAll(pkg, "/", "_")+"."+target)
		r := result{Package: pkg, Target: target}
		out, err := os.ReadFile(base + ".log")
		if err != nil {
			r.Status, r.Findings = "not run", []string{err.Error()}
			results = append(results, r)
			continue
		}
		rc, err := os.ReadFile(base + ".rc")
		code := -1
		if err == nil {
			code, _ = strconv.Atoi(strings.TrimSpace(string(rc)))
		}
		r.parse(out, code)
		results = append(results, r)
	}
	heading := fmt.Sprintf("Run of %s: `-fuzztime %s -parallel 1`, %d targets at a time, %s, %d CPUs%s.",
		time.Now().UTC().Format("2006-01-02"), *fuzztime, *jobs, runtime.Version(), runtime.NumCPU(), loadAverage())
	table := heading + "\n\n" + markdown(results)
	fmt.Fprint(stdout, table)
	if *doc != "-" {
		if err := writeSection(*doc, table); err != nil {
			return err
		}
	}
	var failed []string
	for _, r := range results {
		if r.Failed() {
			failed = append(failed, r.Target)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d targets failed: %s", len(failed), len(results), strings.Join(failed, ", "))
	}
	return nil
}

// loadAverage says how busy the machine was (Linux's 1, 5 and 15 minute load
// averages at the end of the run): fuzzers sharing the cores with other work
// run slower, so a table's numbers need it. "" when it cannot be read.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if err != nil || len(f) < 3 {
		return ""
	}
	return fmt.Sprintf(", load average %s %s %s at the end", f[0], f[1], f[2])
}

// result is what one target's run did.
type result struct {
	Package, Target string
	Status          string // "ok", "FAIL", "no fuzzing" (it ended before fuzzing started)
	Elapsed         time.Duration
	Execs           int64
	Interesting     int64 // new interesting inputs this run found
	Corpus          int64 // the corpus at the end: seeds, cached and new
	Baseline        int64 // the inputs the baseline coverage ran
	Findings        []string
}

// deadlineRace is what go test -fuzz prints when the end of -fuzztime races a
// busy worker (go.dev/issue/75804).
const deadlineRace = "context deadline exceeded"

var (
	// fuzz: elapsed: 6s, execs: 144677 (27434/sec), new interesting: 3 (total: 6)
	progressRE = regexp.MustCompile(`^fuzz: elapsed: (\S+), execs: (\d+) \(\d+/sec\), new interesting: (\d+) \(total: (\d+)\)`)
	// fuzz: elapsed: 0s, gathering baseline coverage: 3/3 completed
	baselineRE = regexp.MustCompile(`^fuzz: elapsed: (\S+), gathering baseline coverage: (\d+)/(\d+) completed`)
	// Failing input written to testdata/fuzz/FuzzX/4c7cc18493597f8c
	failingRE = regexp.MustCompile(`Failing input written to (\S+)`)
)

// parse reads go test -fuzz's output and its exit status. It never fails:
// what it does not recognise is left out, and a failed run without a
// failing input shows its first error line.
func (r *result) parse(out []byte, code int) {
	var firstFail string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := progressRE.FindStringSubmatch(line); m != nil {
			// A line whose counts do not fit an int64 is not one Go
			// wrote: it is skipped whole, not read as the largest number.
			execs, err1 := strconv.ParseInt(m[2], 10, 64)
			interesting, err2 := strconv.ParseInt(m[3], 10, 64)
			corpus, err3 := strconv.ParseInt(m[4], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			if d, err := time.ParseDuration(m[1]); err == nil {
				r.Elapsed = d
			}
			r.Execs, r.Interesting, r.Corpus = execs, interesting, corpus
			continue
		}
		if m := baselineRE.FindStringSubmatch(line); m != nil {
			if d, err := time.ParseDuration(m[1]); err == nil && d > r.Elapsed {
				r.Elapsed = d
			}
			r.Baseline, _ = strconv.ParseInt(m[2], 10, 64)
			continue
		}
		if m := failingRE.FindStringSubmatch(line); m != nil {
			r.Findings = append(r.Findings, m[1])
			continue
		}
		if firstFail == "" && code != 0 && line != "" && !strings.HasPrefix(line, "fuzz:") && !strings.HasPrefix(line, "--- FAIL") &&
			line != "FAIL" && !strings.HasPrefix(line, "exit status") && !strings.HasPrefix(line, "FAIL\t") && !strings.HasPrefix(line, "#") {
			firstFail = line
		}
	}
	switch {
	case code == 0 && r.Execs > 0:
		r.Status = "ok"
	case code == 0:
		r.Status = "no fuzzing"
	case len(r.Findings) == 0 && firstFail == deadlineRace:
		// Go 1.26's coordinator can report the end of -fuzztime as a
		// failure when a worker is still busy (go.dev/issue/75804, fixed
		// in Go 1.27): no input failed, none was written.
		r.Status = "ok (go.dev/issue/75804)"
	default:
		r.Status = "FAIL"
		if len(r.Findings) == 0 {
			if firstFail == "" {
				firstFail = fmt.Sprintf("exit status %d", code)
			}
			r.Findings = []string{firstFail}
		}
	}
}

// Failed reports whether the run found something or did not run.
func (r *result) Failed() bool { return r.Status == "FAIL" || r.Status == "not run" }

// PerSecond is the run's execs over its whole time, baseline included.
func (r *result) PerSecond() int64 {
	if r.Elapsed <= 0 {
		return 0
	}
	v := float64(r.Execs) / r.Elapsed.Seconds()
	if v >= math.MaxInt64 { // a float64 that large does not convert
		return math.MaxInt64
	}
	return int64(v)
}

func markdown(rs []result) string {
	var b strings.Builder
	b.WriteString("| target | package | status | time | execs | execs/s | new interesting (corpus) | findings |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		findings := "none"
		if len(r.Findings) > 0 {
			findings = "`" + strings.Join(r.Findings, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d (%d) | %s |\n", r.Target, strings.TrimPrefix(r.Package, "github.com/tilld/tilld/"),
			r.Status, r.Elapsed, group(r.Execs), group(r.PerSecond()), r.Interesting, r.Corpus, strings.ReplaceAll(findings, "|", `\|`))
	}
	return b.String()
}

// group writes n with thin groups of three digits: 1 234 567.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

const (
	beginMarker = "<!-- fuzz-long summary: begin -->"
	endMarker   = "<!-- fuzz-long summary: end -->"
)

// writeSection puts section between the page's markers, or appends it with
// them when the page has none.
func writeSection(path, section string) error {
	page, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	block := beginMarker + "\n" + section + endMarker
	s := string(page)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + block + s[j+len(endMarker):]
	case i >= 0 || j >= 0:
		return fmt.Errorf("%s: one summary marker without the other", path)
	default:
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
