package discount_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/pos"
)

// vector is one golden case: a rules file, the inputs of Apply and the quote
// it must give, and optionally refunds of the resulting sale. HQ's audit
// reads the same files; testdata/golden/README.md describes the format.
type vector struct {
	Description string       `json:"description"`
	Rules       string       `json:"rules"` // path relative to testdata/
	Now         time.Time    `json:"now"`
	Explain     bool         `json:"explain,omitempty"`
	Basket      pos.Basket   `json:"basket"`
	Account     *pos.Account `json:"account"`
	Quote       pos.Quote    `json:"quote"`
	Refunds     []refundStep `json:"refunds,omitempty"`
}

type refundStep struct {
	Returned []pos.ReturnLine `json:"returned"`
	Refund   *pos.RefundQuote `json:"refund,omitempty"`
	Error    string           `json:"error,omitempty"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("%d golden vectors in testdata/golden; want at least 10", len(files))
	}
	rulesets := map[string]*discount.Ruleset{}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var v vector
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			rs, ok := rulesets[v.Rules]
			if !ok {
				src, err := os.ReadFile(filepath.Join("testdata", v.Rules))
				if err != nil {
					t.Fatal(err)
				}
				if rs, err = rulesfile.Parse(src); err != nil {
					t.Fatal(err)
				}
				rulesets[v.Rules] = rs
			}
			q, err := discount.ApplyWith(rs, v.Basket, v.Account, v.Now, discount.Options{Explain: v.Explain})
			if err != nil {
				t.Fatal(err)
			}
			got := v
			got.Quote = q
			sale := pos.Sale{ID: "golden-" + filepath.Base(file), Card: v.Basket.Card, At: v.Now, Quote: q}
			for i, step := range v.Refunds {
				r, err := discount.Refund(sale, step.Returned)
				got.Refunds[i] = refundStep{Returned: step.Returned}
				if err != nil {
					got.Refunds[i].Error = err.Error()
				} else {
					got.Refunds[i].Refund = &r
				}
			}
			if *discount.Update {
				out, err := json.MarshalIndent(got, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			// Compare as JSON, the form HQ reads.
			want, _ := json.Marshal(v)
			have, _ := json.Marshal(got)
			if !bytes.Equal(want, have) {
				var w, h any
				_ = json.Unmarshal(want, &w)
				_ = json.Unmarshal(have, &h)
				t.Errorf("%s differs from what the engine gives now (go test ./discount -run TestGolden -update rewrites it):\n%s",
					file, jsonDiff(w, h, ""))
			}
		})
	}
}

// jsonDiff lists the paths where two decoded JSON values differ.
func jsonDiff(want, got any, path string) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	wm, ok1 := want.(map[string]any)
	gm, ok2 := got.(map[string]any)
	if ok1 && ok2 {
		var b strings.Builder
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		for k := range keys {
			b.WriteString(jsonDiff(wm[k], gm[k], path+"."+k))
		}
		return b.String()
	}
	wl, ok1 := want.([]any)
	gl, ok2 := got.([]any)
	if ok1 && ok2 && len(wl) == len(gl) {
		var b strings.Builder
		for i := range wl {
			b.WriteString(jsonDiff(wl[i], gl[i], path+"["+strconv.Itoa(i)+"]"))
		}
		return b.String()
	}
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(got)
	return "\t" + path + ": want " + string(w) + ", got " + string(g) + "\n"
}
