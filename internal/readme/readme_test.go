package readme

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

const doc = "# Title\n" +
	"\n" +
	"## Install\n" +
	"\n" +
	"Some text.\n" +
	"\n" +
	"```sh\n" +
	"apt install ./x.deb   # a comment\n" +
	"# a line of comment\n" +
	"\n" +
	"tillhq init \\\n" +
	"  --data /var/lib/tillhq\n" +
	"cat >/etc/x.toml <<'TOML'\n" +
	"a = 1\n" +
	"TOML\n" +
	"echo done\n" +
	"```\n" +
	"\n" +
	"### Inside\n" +
	"~~~~\n" +
	"cat <<-EOF <<\"B\"\n" +
	"\tx\n" +
	"\tEOF\n" +
	"y\n" +
	"B\n" +
	"```\n" +
	"still code\n" +
	"~~~~\n" +
	"## Next ##\n" +
	"1. item\n" +
	"   ```sh\n" +
	"   cat <<X\n" +
	"     y\n" +
	"   X\n" +
	"  ```\n" +
	"```\n" +
	"not this\n" +
	"```\n"

func TestSectionAndCommands(t *testing.T) {
	blocks, err := Section([]byte(doc), "Install")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 {
		t.Fatalf("got %d blocks, want 2: %+v", len(blocks), blocks)
	}
	if blocks[0].Info != "sh" || blocks[0].Line != 8 || blocks[1].Info != "" || blocks[1].Line != 21 {
		t.Errorf("blocks: %+v", blocks)
	}
	if want := "cat <<-EOF <<\"B\"\n\tx\n\tEOF\ny\nB\n```\nstill code\n"; blocks[1].Text != want {
		t.Errorf("second block %q, want %q", blocks[1].Text, want)
	}
	var got []Command
	for _, b := range blocks {
		c, err := Commands(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c...)
	}
	want := []Command{
		{"apt install ./x.deb   # a comment", 8},
		{"tillhq init \\\n  --data /var/lib/tillhq", 11},
		{"cat >/etc/x.toml <<'TOML'\na = 1\nTOML", 13},
		{"echo done", 16},
		{"cat <<-EOF <<\"B\"\n\tx\n\tEOF\ny\nB", 21},
		{"```", 26},
		{"still code", 27},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("commands:\n%+v\nwant\n%+v", got, want)
	}
	if b, err := Section([]byte(doc), "Next"); err != nil || len(b) != 2 || b[0].Text != "cat <<X\n  y\nX\n" || b[1].Text != "not this\n" {
		t.Errorf("Next: %+v, %v", b, err)
	}
}

func TestErrors(t *testing.T) {
	if _, err := Section([]byte(doc), "Missing"); !errors.Is(err, ErrNoSection) {
		t.Errorf("missing section: %v", err)
	}
	if _, err := Section([]byte("## A\n```\nx\n"), "A"); err == nil || !strings.Contains(err.Error(), "line 2 is not closed") {
		t.Errorf("unclosed block: %v", err)
	}
	for text, want := range map[string]string{
		"cat <<EOF\nx\n":   "line 5: the here-document EOF is not closed",
		"echo a \\\n":      "line 5: the backslash continues",
		"ok\necho \\\nb\\": "line 6: the backslash continues",
	} {
		if _, err := Commands(Block{Text: text, Line: 5}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

// README.md's sections that tests run have commands.
func TestREADME(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Running tilld and tillhq separately", "Install on a terminal (store IT)"} {
		blocks, err := Section(md, h)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, b := range blocks {
			c, err := Commands(b)
			if err != nil {
				t.Fatalf("%s: %v", h, err)
			}
			n += len(c)
		}
		if n < 5 {
			t.Errorf("%s: %d commands", h, n)
		}
	}
}

// Section and Commands never panic; a block is text of the document, a
// command text of its block, and line numbers point into the document.
func FuzzSection(f *testing.F) {
	f.Add([]byte(doc), "Install")
	f.Add([]byte(doc), "Inside")
	f.Add([]byte("# A\n```\ncat <<'X' <<Y\nX\nY\n```\n"), "A")
	f.Add([]byte("#\n\r\n ```~\n~~~\n"), "")
	if md, err := os.ReadFile("../../README.md"); err == nil {
		f.Add(md, "Running tilld and tillhq separately")
	}
	f.Fuzz(func(t *testing.T, md []byte, heading string) {
		blocks, err := Section(md, heading)
		if err != nil {
			return
		}
		lines := strings.Split(strings.ReplaceAll(string(md), "\r\n", "\n"), "\n")
		// at reports whether the document's line n ends with text.
		at := func(n int, text string) bool {
			return n >= 1 && n <= len(lines) && strings.HasSuffix(lines[n-1], text)
		}
		for _, b := range blocks {
			for i, l := range strings.Split(strings.TrimSuffix(b.Text, "\n"), "\n") {
				if b.Text != "" && !at(b.Line+i, l) {
					t.Fatalf("block of line %d: its line %q is not line %d of the document", b.Line, l, b.Line+i)
				}
			}
			cmds, err := Commands(b)
			if err != nil {
				continue
			}
			for _, c := range cmds {
				if !strings.Contains(b.Text, c.Text) {
					t.Fatalf("command %q is not in its block %q", c.Text, b.Text)
				}
				// A command is its line trimmed of white space at both ends
				// (a stray "\r" included): the line holds it.
				if first, _, _ := strings.Cut(c.Text, "\n"); c.Line < 1 || c.Line > len(lines) || !strings.Contains(lines[c.Line-1], first) {
					t.Fatalf("command %q says line %d", c.Text, c.Line)
				}
			}
		}
	})
}
