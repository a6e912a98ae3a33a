// Package readme reads the shell commands of a Markdown document's fenced code
// blocks, so that a test can run what README.md tells a person to type, and the
// two cannot drift apart.
//
// It knows as much Markdown as README.md uses: ATX headings ("## Install") and
// fenced code blocks (``` or ~~~, at most three spaces of indent, closed by a
// fence of the same character at least as long; the code loses as many
// spaces of indent as the opening fence has, so a block may sit in a list
// item). Of shell it knows lines, a
// backslash at the end of a line, comments that fill a line, and here-documents
// (<<WORD, <<'WORD', <<"WORD", <<-WORD), which it keeps with their command.
package readme

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Block is a fenced code block.
type Block struct {
	Info string // the info string after the opening fence, e.g. "sh"
	Line int    // the line of its first line of code, counting from 1
	Text string // its lines, each ending in "\n"
}

// Command is one shell command of a block.
type Command struct {
	Text string // as written: continuation lines and here-document bodies included, without the final newline
	Line int    // the line of the document it starts on
}

// ErrNoSection: the document has no heading of that text.
var ErrNoSection = errors.New("no such section")

// Section returns the fenced code blocks of the section whose ATX heading's
// text is heading, up to the next heading of the same or a higher level.
func Section(md []byte, heading string) ([]Block, error) {
	lines := split(md)
	level := 0
	var blocks []Block
	var open *Block
	var fence string
	var margin int // the opening fence's indent, taken off each line of code
	for i, l := range lines {
		if open != nil {
			if closes(l, fence) {
				if level > 0 {
					blocks = append(blocks, *open)
				}
				open = nil
				continue
			}
			n := 0
			for n < margin && n < len(l) && l[n] == ' ' {
				n++
			}
			open.Text += l[n:] + "\n"
			continue
		}
		if f, info, ok := opens(l); ok {
			open, fence = &Block{Info: info, Line: i + 2}, f
			margin = len(l) - len(strings.TrimLeft(l, " "))
			continue
		}
		if n, text, ok := atx(l); ok {
			switch {
			case level > 0 && n <= level:
				return blocks, nil
			case level == 0 && text == heading:
				level = n
			}
		}
	}
	if level == 0 {
		return nil, fmt.Errorf("heading %q: %w", heading, ErrNoSection)
	}
	if open != nil {
		return nil, fmt.Errorf("heading %q: the code block of line %d is not closed", heading, open.Line-1)
	}
	return blocks, nil
}

// split returns the lines of md without their line ends ("\n" or "\r\n").
func split(md []byte) []string {
	s := strings.ReplaceAll(string(md), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// indent strips up to three spaces; ok is false for four or more.
func indent(l string) (string, bool) {
	t := strings.TrimLeft(l, " ")
	return t, len(l)-len(t) <= 3
}

// opens reports whether l opens a fenced code block: the fence and the info
// string. A backtick fence's info string has no backtick.
func opens(l string) (fence, info string, ok bool) {
	t, ok := indent(l)
	if !ok {
		return "", "", false
	}
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(t) && t[n] == c {
			n++
		}
		if n < 3 {
			continue
		}
		info = strings.TrimSpace(t[n:])
		if c == '`' && strings.Contains(info, "`") {
			return "", "", false
		}
		return t[:n], info, true
	}
	return "", "", false
}

// closes reports whether l closes a block opened by fence.
func closes(l, fence string) bool {
	t, ok := indent(l)
	if !ok || !strings.HasPrefix(t, fence) {
		return false
	}
	return strings.TrimSpace(strings.TrimLeft(t, fence[:1])) == ""
}

// atx reads an ATX heading: its level and text.
func atx(l string) (level int, text string, ok bool) {
	t, ok := indent(l)
	if !ok {
		return 0, "", false
	}
	for level < len(t) && t[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || (level < len(t) && t[level] != ' ' && t[level] != '\t') {
		return 0, "", false
	}
	text = strings.TrimSpace(t[level:])
	// A closing sequence of #s is not part of the text.
	if c := strings.TrimRight(text, "#"); c != text && (c == "" || strings.HasSuffix(c, " ") || strings.HasSuffix(c, "\t")) {
		text = strings.TrimSpace(c)
	}
	return level, text, true
}

// heredoc finds the here-document operators of a command line, in order:
// <<WORD, <<-WORD, <<'WORD', <<"WORD". A "<<" inside quotes is taken for one
// too; README.md has none.
var heredoc = regexp.MustCompile(`<<(-?)[ \t]*(?:'([^'\n]+)'|"([^"\n]+)"|([A-Za-z_][A-Za-z0-9_]*))`)

// Commands splits a block into its shell commands: a line, with the lines a
// backslash at its end continues and the bodies of its here-documents. Blank
// lines and lines that are only a comment are left out.
func Commands(b Block) ([]Command, error) {
	lines := split([]byte(b.Text))
	var cmds []Command
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		start := i
		var text bytes.Buffer
		text.WriteString(l)
		for strings.HasSuffix(lines[i], `\`) {
			if i+1 == len(lines) {
				return nil, fmt.Errorf("line %d: the backslash continues the command past the end of its block", b.Line+start)
			}
			i++
			text.WriteString("\n" + lines[i])
		}
		for _, m := range heredoc.FindAllStringSubmatch(text.String(), -1) {
			word, tabs := m[2]+m[3]+m[4], m[1] == "-"
			for {
				if i+1 == len(lines) {
					return nil, fmt.Errorf("line %d: the here-document %s is not closed", b.Line+start, word)
				}
				i++
				text.WriteString("\n" + lines[i])
				end := lines[i]
				if tabs {
					end = strings.TrimLeft(end, "\t")
				}
				if end == word {
					break
				}
			}
		}
		cmds = append(cmds, Command{Text: text.String(), Line: b.Line + start})
	}
	return cmds, nil
}
