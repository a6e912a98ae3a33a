package discount

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// update is -update: TestGolden rewrites testdata/golden/*.json and
// TestRulesDoc the generated parts of docs/rules.md from what the code
// gives now.
var update = flag.Bool("update", false, "rewrite testdata/golden/*.json (TestGolden) and the generated parts of docs/rules.md (TestRulesDoc) from what the code gives now")

// Update lets the external tests (golden_test.go) read -update.
var Update = update

const rulesDoc = "../docs/rules.md"

// TestRulesDoc: the overview of the kinds in docs/rules.md, and each kind's
// heading and keys, are what the kinds table says, so a kind's keys are
// spelled once, in discount/kinds.go. With -update it rewrites them (a new
// kind gets its section at the end of the list, ready for its worked
// example); without, it fails with the difference.
func TestRulesDoc(t *testing.T) {
	raw, err := os.ReadFile(rulesDoc)
	if err != nil {
		t.Fatal(err)
	}
	have := string(raw)
	want, err := regenerate(have)
	if err != nil {
		t.Fatalf("%s: %v", rulesDoc, err)
	}
	// Every kind's section goes on with a worked example, written by hand.
	for _, m := range kindMarker.FindAllStringSubmatchIndex(want, -1) {
		if rest := want[m[1]:]; strings.TrimSpace(rest[:kindEnd(rest)]) == "" {
			t.Errorf("%s: the section of %s has no worked example after its keys", rulesDoc, want[m[2]:m[3]])
		}
	}
	if want == have {
		return
	}
	if *update {
		if err := os.WriteFile(rulesDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s differs from the kinds table (go test ./discount -run TestRulesDoc -update rewrites it):\n%s", rulesDoc, lineDiff(have, want))
}

const (
	beginKinds = "<!-- begin kinds: generated from discount/kinds.go -->"
	endKinds   = "<!-- end kinds -->"
)

var kindMarker = regexp.MustCompile(`(?m)^<!-- begin kind ([a-z0-9_]+): generated from discount/kinds.go -->\n(?s:.*?)^<!-- end kind ([a-z0-9_]+) -->\n`)

// regenerate returns doc with its generated parts as the table says: the
// overview between the kinds markers, and one section per kind, in table
// order, each keeping the hand-written text that follows its generated part
// up to the next kind's or the end of the "## Rule kinds" section.
func regenerate(doc string) (string, error) {
	start := strings.Index(doc, "\n## Rule kinds\n")
	if start < 0 {
		return "", fmt.Errorf("no \"## Rule kinds\" section")
	}
	start++
	end := strings.Index(doc[start+1:], "\n## ")
	if end < 0 {
		end = len(doc)
	} else {
		end += start + 2
	}
	section := doc[start:end]

	b, e := strings.Index(section, beginKinds+"\n"), strings.Index(section, endKinds+"\n")
	if b < 0 || e < b {
		return "", fmt.Errorf("the Rule kinds section has no %q … %q", beginKinds, endKinds)
	}
	head := section[:b] + beginKinds + "\n" + kindsOverview() + section[e:e+len(endKinds)+1]
	rest := section[e+len(endKinds)+1:]

	blocks := kindMarker.FindAllStringSubmatchIndex(rest, -1)
	if len(blocks) == 0 {
		return "", fmt.Errorf("the Rule kinds section has no kind's section")
	}
	head += rest[:blocks[0][0]]
	prose := map[Kind]string{}
	for i, m := range blocks {
		name, closing := rest[m[2]:m[3]], rest[m[4]:m[5]]
		if name != closing {
			return "", fmt.Errorf("the section of %s ends with the marker of %s", name, closing)
		}
		next := len(rest)
		if i+1 < len(blocks) {
			next = blocks[i+1][0]
		}
		prose[Kind(name)] = rest[m[1]:next]
	}
	var out strings.Builder
	out.WriteString(doc[:start])
	out.WriteString(head)
	for _, k := range Kinds {
		out.WriteString(kindSection(specs[k]))
		p, ok := prose[k]
		if !ok {
			p = "\n"
		}
		out.WriteString(p)
	}
	out.WriteString(doc[end:])
	return out.String(), nil
}

// kindEnd is where the hand-written text of a kind's section that starts
// rest ends: at the next kind's section or the next "## " heading.
func kindEnd(rest string) int {
	end := len(rest)
	if i := strings.Index(rest, "<!-- begin kind "); i >= 0 {
		end = i
	}
	if i := strings.Index(rest, "\n## "); i >= 0 && i < end {
		end = i
	}
	return end
}

var phaseNames = [...]string{
	phaseDiscount: "discounts",
	phaseRedeem:   "payment with points",
	phaseEarn:     "earning",
	phaseAfter:    "after the total",
}

// phaseDoc says when a kind's rules run, trying a rule with and without a
// percentage.
func phaseDoc(s *kindSpec) string {
	bare, with := s.phase(&Rule{Kind: s.kind}), s.phase(&Rule{Kind: s.kind, Percent: 1})
	if bare == with {
		return phaseNames[bare]
	}
	return phaseNames[with] + " with a `percent`, else " + phaseNames[bare]
}

func whoDoc(s *kindSpec) string {
	if s.card == nil {
		return "card holders"
	}
	return s.cardDoc
}

func kindsOverview() string {
	var b strings.Builder
	b.WriteString("| kind | for | phase | applies to | exclusive groups |\n|---|---|---|---|---|\n")
	for _, k := range Kinds {
		s := specs[k]
		group := "yes"
		if s.noGroup {
			group = "no"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.kind, s.title, phaseDoc(s), whoDoc(s), group)
	}
	return b.String()
}

// kindSection is the generated part of a kind's section: its heading, its
// keys and the facts of its entry.
func kindSection(s *kindSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- begin kind %s: generated from discount/kinds.go -->\n", s.kind)
	fmt.Fprintf(&b, "### `%s`: %s\n\n", s.kind, s.title)
	b.WriteString("| key | value | meaning |\n|---|---|---|\n")
	for _, k := range s.keys {
		name := "`" + k.Name + "`"
		if k.Type == ValueTables {
			name = "`[[rule." + k.Name + "]]`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, valueDoc(k), k.Doc)
		for _, f := range k.Fields {
			fmt.Fprintf(&b, "| ↳ `%s` | %s | %s |\n", f.Name, valueDoc(f), f.Doc)
		}
	}
	if s.needs != "" {
		fmt.Fprintf(&b, "\nA rule needs %s.\n", s.needs)
	}
	fmt.Fprintf(&b, "\nPhase: %s. Applies to %s.", phaseDoc(s), whoDoc(s))
	if s.noGroup {
		b.WriteString(" Cannot be in an exclusive group.")
	}
	if s.onlyOne != "" {
		fmt.Fprintf(&b, " At most one per ruleset, %s.", s.onlyOne)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "<!-- end kind %s -->\n", s.kind)
	return b.String()
}

func valueDoc(k Key) string {
	v := k.Type.String()
	switch {
	case k.Required != "":
		v += ", **required**"
	case k.Default != 0:
		v += fmt.Sprintf(", default %d", k.Default)
	case k.Zero != "":
		v += ", not 0"
	}
	return v
}

// lineDiff is a unified-style diff of two texts, by lines: the lines only
// in a with "-", only in b with "+", and two lines of context.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j] is the length of the longest common subsequence of x[i:], y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
		at   int // line number in a
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, line{' ', x[i], i + 1})
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', y[j], i + 1})
			j++
		default:
			lines = append(lines, line{'-', x[i], i + 1})
			i++
		}
	}
	var out strings.Builder
	last := -1
	for n, l := range lines {
		near := slices.ContainsFunc(lines[max(n-2, 0):min(n+3, len(lines))], func(o line) bool { return o.op != ' ' })
		if !near {
			continue
		}
		if n != last+1 {
			fmt.Fprintf(&out, "@@ line %d\n", l.at)
		}
		fmt.Fprintf(&out, "%c %s\n", l.op, l.text)
		last = n
	}
	return out.String()
}

// TestRulesDocDrift: TestRulesDoc sees a key's docs changed by hand, a
// kind's section missing, and the section of a kind the table no longer
// has, and says what differs.
func TestRulesDocDrift(t *testing.T) {
	raw, err := os.ReadFile(rulesDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	if got, err := regenerate(doc); err != nil || got != doc {
		t.Fatalf("docs/rules.md is not up to date; TestRulesDoc says how (%v)", err)
	}
	gift := "| `gift_sku` | string, **required** |"
	if !strings.Contains(doc, gift) {
		t.Fatalf("docs/rules.md has no %q", gift)
	}
	edited := strings.Replace(doc, gift, "| `gift_sku` | string |", 1)
	got, err := regenerate(edited)
	if err != nil || got != doc {
		t.Errorf("a key's row edited by hand: regenerate gives the doc back %v (%v)", got == doc, err)
	}
	if d := lineDiff(edited, got); !strings.Contains(d, "- | `gift_sku` | string |") || !strings.Contains(d, "+ "+gift) {
		t.Errorf("the diff does not show the row:\n%s", d)
	}

	m := kindMarker.FindStringIndex(doc)
	withoutFirst := doc[:m[0]] + doc[m[1]:]
	if got, err := regenerate(withoutFirst); err != nil || !strings.Contains(got, kindSection(&kindTable[0])) {
		t.Errorf("a kind's section missing: regenerate does not add it back (%v)", err)
	}

	stale := doc[:m[0]] + "<!-- begin kind coupon: generated from discount/kinds.go -->\n### `coupon`\n<!-- end kind coupon -->\n\nOld text.\n\n" + doc[m[0]:]
	if got, err := regenerate(stale); err != nil || got != doc {
		t.Errorf("the section of a kind the table does not have: regenerate keeps it (%v)", err)
	}
}
