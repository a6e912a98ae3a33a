package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tilld/tilld/daemon"
)

// `tilld --help` and the README's table list every exit status of
// daemon.ExitCodes, and the README says which ones the unit does not restart.
func TestExitCodesDocumented(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"run", "--help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \| .* \| (yes|no) \|$`).FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = m[2]
	}
	for _, c := range daemon.ExitCodes {
		if !strings.Contains(out.String(), fmt.Sprintf("%3d  %s", c.Code, c.What)) {
			t.Errorf("tilld run --help does not list %d (%s):\n%s", c.Code, c.What, out.String())
		}
		want := "yes"
		if c.Final {
			want = "no"
		}
		if got, ok := rows[fmt.Sprint(c.Code)]; !ok || got != want {
			t.Errorf("README's exit status table: %d restarted %q, want %q (%s)", c.Code, got, want, c.What)
		}
	}
	if len(rows) != len(daemon.ExitCodes)+1 { // and 1, anything else
		t.Errorf("README lists %d exit statuses, tilld has %d and 1", len(rows), len(daemon.ExitCodes))
	}
}
