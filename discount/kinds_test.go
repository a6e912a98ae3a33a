package discount

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/tilld/tilld/money"
)

// TestKindTable: every entry of the kinds table is complete and agrees with
// itself, so that the checker, the rules file and the docs, which all read
// it, can rely on it.
func TestKindTable(t *testing.T) {
	if len(Kinds) != len(kindTable) {
		t.Fatalf("Kinds has %d kinds, the table %d", len(Kinds), len(kindTable))
	}
	for i, s := range kindTable {
		t.Run(string(s.kind), func(t *testing.T) {
			if Kinds[i] != s.kind || specs[s.kind] != &kindTable[i] {
				t.Errorf("Kinds[%d] = %s, specs = %p; want the table's entry", i, Kinds[i], specs[s.kind])
			}
			if s.kind == "" || s.title == "" || s.phase == nil || s.check == nil {
				t.Fatalf("kind %q: title %q, phase set %v, check set %v: every kind has them", s.kind, s.title, s.phase != nil, s.check != nil)
			}
			if (s.card == nil) != (s.cardDoc == "") {
				t.Errorf("card set %v but cardDoc %q: the docs say who a rule is for when it is not card holders only", s.card != nil, s.cardDoc)
			}
			// Whatever phase a rule of the kind runs in, the engine has the
			// hook that runs it there.
			for _, r := range []Rule{{Kind: s.kind}, {Kind: s.kind, Percent: 1}} {
				var ok bool
				switch p := s.phase(&r); p {
				case phaseDiscount:
					ok = s.discount != nil
				case phaseRedeem:
					ok = s.pay != nil
				case phaseEarn:
					ok = s.earn != nil
				case phaseAfter:
					ok = s.after != nil
				}
				if !ok {
					t.Errorf("a rule %+v runs in phase %d and the kind has no hook for it", r, s.phase(&r))
				}
			}
			if s.alsoEarns != nil && s.earn == nil {
				t.Error("alsoEarns without earn")
			}
			seen := map[string]bool{}
			for _, k := range s.keys {
				if seen[k.Name] || slices.Contains(commonKeys, k.Name) {
					t.Errorf("key %s twice, or also a key of every rule", k.Name)
				}
				seen[k.Name] = true
				checkKey(t, k, false)
				var r Rule
				if k.set(&r) {
					t.Errorf("key %s is set on a zero rule", k.Name)
				}
			}
		})
	}
	// A key's name means one field of Rule, whichever kind has it.
	var r Rule
	field := map[string]uintptr{}
	for _, s := range kindTable {
		for _, k := range s.keys {
			p := reflect.ValueOf(k.Value(&r)).Pointer()
			if q, ok := field[k.Name]; ok && q != p {
				t.Errorf("key %s of %s rules is another field than the same key of another kind", k.Name, s.kind)
			}
			field[k.Name] = p
		}
	}
}

// checkKey checks a key's facts against each other and against its field.
func checkKey(t *testing.T, k Key, nested bool) {
	t.Helper()
	if k.Name == "" || k.Doc == "" || k.Type.String() == fmt.Sprintf("ValueType(%d)", k.Type) {
		t.Errorf("key %+v: want a name, a type and a doc", k)
	}
	if (k.Type == ValueTables) != (len(k.Fields) > 0) {
		t.Errorf("key %s: fields only, and always, for tables", k.Name)
	}
	if k.Zero != "" && k.Type != ValuePercent {
		t.Errorf("key %s: Zero is for optional percentages", k.Name)
	}
	if k.Default != 0 && k.Type != ValueInt {
		t.Errorf("key %s: Default is for integers", k.Name)
	}
	for _, f := range k.Fields {
		checkKey(t, f, true)
	}
	if nested {
		if k.Value(&Rule{}) != nil {
			t.Errorf("key %s of a table has a field of Rule", k.Name)
		}
		return
	}
	var want string
	switch k.Type {
	case ValueString:
		want = "*string"
	case ValueBool:
		want = "*bool"
	case ValueInt:
		want = "*int64"
	case ValueDays:
		want = "*int"
	case ValuePercent:
		want = fmt.Sprintf("%T", new(money.BP))
	case ValueAmount:
		want = fmt.Sprintf("%T", new(money.Amount))
	case ValueStrings:
		want = "*[]string"
	case ValueTexts:
		want = "*map[string]string"
	case ValuePrefixes:
		want = "*[]discount.PrefixRange"
	case ValueTables:
		want = map[string]string{"tier": "*[]discount.Tier", "multiplier": "*[]discount.Multiplier", "item": "*[]discount.CatalogItem"}[k.Name]
	}
	if got := fmt.Sprintf("%T", k.Value(&Rule{})); got != want {
		t.Errorf("key %s of type %s holds its value in a %s, want %s", k.Name, k.Type, got, want)
	}
}

// TestForeignKeys: a rule built in code that sets a field of another kind
// is refused, for every key of every kind.
func TestForeignKeys(t *testing.T) {
	for _, k := range allKeys {
		for _, s := range kindTable {
			if s.has(k.Name) {
				continue
			}
			r := Rule{ID: "r", Kind: s.kind}
			setSomething(t, k.Value(&r))
			if got := r.foreignKeys(&s); !slices.Equal(got, []string{k.Name}) {
				t.Errorf("%s rule with %s set: foreign keys %v", s.kind, k.Name, got)
			}
		}
	}
}

func setSomething(t *testing.T, p any) {
	switch p := p.(type) {
	case *string:
		*p = "x"
	case *bool:
		*p = true
	case *int64:
		*p = 1
	case *int:
		*p = 1
	case *money.BP:
		*p = 1
	case *money.Amount:
		*p = 1
	case *[]string:
		*p = []string{"x"}
	case *map[string]string:
		*p = map[string]string{"ru": "x"}
	case *[]PrefixRange:
		*p = []PrefixRange{{"1", "1"}}
	case *[]Tier:
		*p = []Tier{{}}
	case *[]Multiplier:
		*p = []Multiplier{{}}
	case *[]CatalogItem:
		*p = []CatalogItem{{}}
	default:
		t.Fatalf("no value for a %T", p)
	}
}

// TestRequiredEmpty: a rule built in code that leaves a required name, list
// or text empty is refused in the words the rules file uses for the key
// left out.
func TestRequiredEmpty(t *testing.T) {
	n := 0
	for _, s := range kindTable {
		for _, k := range s.keys {
			if k.Required == "" || !k.empty(&Rule{}) {
				continue
			}
			n++
			err := ruleset(Rule{ID: "r", Kind: s.kind}).Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) || !slices.Contains(ve.Problems, Problem{Rule: "r", Index: 1, Field: k.Name, Msg: "missing; " + k.Required}) {
				t.Errorf("%s rule without %s: %v", s.kind, k.Name, err)
			}
		}
	}
	if n < 5 {
		t.Errorf("%d required keys checked; the table has gift_sku, partner, prefixes, text and cause at least", n)
	}
}
