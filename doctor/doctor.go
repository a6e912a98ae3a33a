// Package doctor holds the health checks behind `tillctl doctor`: are the
// configured card readers there and usable by the tilld service user, is pcscd
// reachable, is the ledger intact, is HQ reachable with the clocks in step, is
// the terminal's certificate still valid, is there disk space left, are the
// discount rules current. Each [Check] reports ok, warn or fail with one line
// of detail and, for every problem, the fix store IT can apply.
//
// The checks do their I/O through their inputs: paths and URLs they are given,
// and functions the caller supplies for what lives in other packages (listing
// PC/SC readers, enumerating HID devices, verifying the ledger, reading the
// rules' state). Tests inject faults through those, not through mocks. The
// package reads no configuration and imports nothing of the project: cmd/tillctl
// turns tilld.toml into checks.
//
// [Run] runs checks concurrently and returns a [Report]; [Report.Print] writes
// it as a table followed by the fixes, and [Report.Err] is non-nil when any
// check failed, so the command exits non-zero.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is a check's verdict.
type Status string

// The verdicts. Only Fail makes [Report.Err] non-nil: a warning is worth
// reading but the till works.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is what one check found.
type Result struct {
	Status Status
	// Detail says what was found, in one line, naming the device, file or URL.
	Detail string
	// Fix says what to do about a warning or failure; empty when ok.
	Fix string
}

// Check is one named probe. Run must honour ctx's cancellation and must not
// panic (Run recovers a panic and reports it as a failure, but it is a bug).
type Check struct {
	Name string
	Run  func(ctx context.Context) Result
}

// Outcome is one check's result in a [Report].
type Outcome struct {
	Name string
	Result
	// Took is how long the check ran.
	Took time.Duration
}

// Report is the outcome of every check, in the order the checks were given.
type Report struct {
	Outcomes []Outcome
}

// ErrFailed is wrapped by [Report.Err] when at least one check failed.
var ErrFailed = errors.New("doctor found failures")

// Run runs every check concurrently and waits for them, or for ctx: a check
// still running when ctx ends is reported as failed (and left to return on its
// own). Give ctx a deadline so a hung probe cannot hold up the report.
func Run(ctx context.Context, checks []Check) Report {
	type done struct {
		i int
		o Outcome
	}
	results := make(chan done, len(checks)) // buffered: a late check never blocks
	for i, c := range checks {
		go func() {
			start := time.Now()
			r := runOne(ctx, c)
			results <- done{i, Outcome{Name: c.Name, Result: r, Took: time.Since(start)}}
		}()
	}
	rep := Report{Outcomes: make([]Outcome, len(checks))}
	finished := make([]bool, len(checks))
	record := func(d done) {
		rep.Outcomes[d.i] = d.o
		finished[d.i] = true
	}
wait:
	for range checks {
		select {
		case d := <-results:
			record(d)
		case <-ctx.Done():
			// Keep what finished just in time, then give up on the rest.
			for {
				select {
				case d := <-results:
					record(d)
				default:
					break wait
				}
			}
		}
	}
	for i, c := range checks {
		if !finished[i] {
			rep.Outcomes[i] = Outcome{Name: c.Name, Result: Result{
				Status: Fail,
				Detail: fmt.Sprintf("no answer in time (%v)", context.Cause(ctx)),
				Fix:    "the probe hung: run tillctl doctor again; if it hangs again, report it with `journalctl -u tilld`",
			}}
		}
	}
	return rep
}

func runOne(ctx context.Context, c Check) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Status: Fail, Detail: fmt.Sprintf("check panicked: %v", p), Fix: "a bug in tillctl doctor: please report it"}
		}
	}()
	if c.Run == nil {
		return Result{Status: Fail, Detail: "check has no probe", Fix: "a bug in tillctl doctor: please report it"}
	}
	r = c.Run(ctx)
	switch r.Status {
	case OK, Warn, Fail:
	default:
		r = Result{Status: Fail, Detail: fmt.Sprintf("check returned unknown status %q: %s", r.Status, r.Detail), Fix: "a bug in tillctl doctor: please report it"}
	}
	return r
}

// Count returns how many checks ended with status s.
func (r Report) Count(s Status) int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Status == s {
			n++
		}
	}
	return n
}

// Err returns nil when no check failed, and otherwise an error wrapping
// [ErrFailed] that names the failed checks.
func (r Report) Err() error {
	var failed []string
	for _, o := range r.Outcomes {
		if o.Status == Fail {
			failed = append(failed, o.Name)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d checks failed: %s", ErrFailed, len(failed), len(r.Outcomes), strings.Join(failed, ", "))
}

// Print writes the report as a table (check, status, detail), a summary line
// and then the fix for every warning and failure.
func (r Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, o := range r.Outcomes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", oneLine(o.Name), label(o.Status), oneLine(o.Detail))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print doctor report: %w", err)
	}
	fails, warns := r.Count(Fail), r.Count(Warn)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d checks: %d ok, %s, %s.\n", len(r.Outcomes), r.Count(OK), plural(warns, "warning"), plural(fails, "failure"))
	if fails+warns > 0 {
		b.WriteString("\nTo fix:\n")
		for _, o := range r.Outcomes {
			if o.Status == OK {
				continue
			}
			fix := o.Fix
			if fix == "" {
				fix = "(no fix suggested: see the detail above)"
			}
			fmt.Fprintf(&b, "  %s %s: %s\n", label(o.Status), oneLine(o.Name), strings.ReplaceAll(strings.TrimSpace(fix), "\n", "\n      "))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("print doctor report: %w", err)
	}
	return nil
}

// label is the status as the table shows it: failures and warnings in capitals
// so they stand out among the oks.
func label(s Status) string {
	if s == OK {
		return string(s)
	}
	return strings.ToUpper(string(s))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// oneLine keeps a table cell on one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\t", " ")
	return strings.ReplaceAll(s, "\n", "; ")
}
