package packaging_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/hidpos"
	"github.com/tilld/tilld/device/pcsc"
	"github.com/tilld/tilld/device/serial"
)

// The shipped tilld.toml shows every setting commented out as "#key = value"
// (a "#" right before the key), while prose comments start with "# ". The
// tests uncomment settings to check them against the code.
const shippedConfig = "tilld/tilld.toml"

var settingLine = regexp.MustCompile(`^#(\[\[reader\]\]|[a-z_]+ *=)`)

// shipped is the shipped configuration cut into its top-level part and its
// [[reader]] examples.
type shipped struct {
	lines    []string
	top      []string // top-level setting lines, still commented
	examples []example
}

type example struct {
	typ      string
	settings []string // commented, the "#[[reader]]" line first
	prose    string   // the comment paragraph above it
}

func readShipped(t *testing.T) shipped {
	t.Helper()
	raw, err := os.ReadFile(shippedConfig)
	if err != nil {
		t.Fatal(err)
	}
	s := shipped{lines: strings.Split(string(raw), "\n")}
	var paragraph []string
	var cur *example
	for _, l := range s.lines {
		switch {
		case strings.HasPrefix(l, "#[[reader]]"):
			s.examples = append(s.examples, example{settings: []string{l}, prose: strings.Join(paragraph, "\n")})
			cur = &s.examples[len(s.examples)-1]
		case settingLine.MatchString(l) && cur != nil:
			cur.settings = append(cur.settings, l)
			if m := regexp.MustCompile(`^#type = "([a-z]+)"`).FindStringSubmatch(l); m != nil {
				cur.typ = m[1]
			}
		case settingLine.MatchString(l):
			s.top = append(s.top, l)
		case strings.TrimSpace(l) == "":
			paragraph, cur = nil, nil
		default:
			paragraph = append(paragraph, l)
		}
	}
	if len(s.top) == 0 || len(s.examples) == 0 {
		t.Fatalf("%s: found %d settings and %d reader examples: is it still written as \"#key = value\"?", shippedConfig, len(s.top), len(s.examples))
	}
	return s
}

// withTerminal is the shipped file with its terminal line filled in, as store
// IT does for a stand-alone till.
func (s shipped) withTerminal(t *testing.T) string {
	t.Helper()
	out := slices.Clone(s.lines)
	n := 0
	for i, l := range out {
		if strings.HasPrefix(l, "#terminal = ") {
			out[i] = `terminal = "S1-T1"`
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%s has %d commented terminal lines, want 1", shippedConfig, n)
	}
	return strings.Join(out, "\n")
}

func uncomment(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimPrefix(l, "#") + "\n")
	}
	return b.String()
}

func parse(t *testing.T, text string) daemon.Config {
	t.Helper()
	cfg, err := daemon.ParseConfig([]byte(text))
	if err != nil {
		t.Fatalf("daemon.ParseConfig: %v\nof:\n%s", err, text)
	}
	return cfg
}

// tomlKeys lists the settings a configuration struct reads.
func tomlKeys(typ reflect.Type) []string {
	var keys []string
	for f := range typ.Fields() {
		if k, _, _ := strings.Cut(f.Tag.Get("toml"), ","); k != "" && k != "-" && f.IsExported() {
			keys = append(keys, k)
		}
	}
	return keys
}

func keyOf(setting string) string {
	k, _, _ := strings.Cut(strings.TrimPrefix(setting, "#"), "=")
	return strings.TrimSpace(k)
}

func TestShippedConfigParses(t *testing.T) {
	s := readShipped(t)

	asShipped := parse(t, strings.Join(s.lines, "\n"))
	if err := asShipped.Complete(); err == nil || !strings.Contains(err.Error(), "terminal: missing") {
		t.Errorf("the shipped file, unenrolled: Complete() = %v, want terminal missing", err)
	}
	if len(asShipped.Readers) != 0 {
		t.Errorf("the shipped file configures %d readers, want none", len(asShipped.Readers))
	}

	filled := parse(t, s.withTerminal(t))
	if err := filled.Complete(); err != nil {
		t.Errorf("with terminal set: %v", err)
	}
	if filled.Terminal != "S1-T1" || filled.DataDir != daemon.DefaultDataDir || filled.Listen != daemon.DefaultListen {
		t.Errorf("with terminal set: %+v", filled)
	}
	// The paths the packaging and doctor's fixes rely on.
	if filled.DataDir != "/var/lib/tilld" {
		t.Errorf("data_dir default %q: the unit's StateDirectory=tilld and the maintainer scripts use /var/lib/tilld", filled.DataDir)
	}
}

// Uncommenting every top-level setting must change nothing: the values shown
// are the code's defaults. And every setting the code reads is shown.
func TestShippedConfigShowsTheDefaults(t *testing.T) {
	s := readShipped(t)
	base := parse(t, s.withTerminal(t))

	var top []string
	for _, l := range s.top {
		if !strings.HasPrefix(l, "#terminal = ") {
			top = append(top, l)
		}
	}
	all := parse(t, `terminal = "S1-T1"`+"\n"+uncomment(top))
	for _, c := range []*daemon.Config{&base, &all} {
		// The same default said two ways: unset, or set to the default.
		if len(c.CardPrefixes) == 0 {
			c.CardPrefixes = device.DefaultCardPrefixes
		}
		v := reflect.ValueOf(c).Elem()
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
				f.SetZero() // [] as nil
			}
		}
	}
	if !reflect.DeepEqual(base, all) {
		t.Errorf("the values shown are not the defaults:\nunset: %+v\nshown: %+v", base, all)
	}

	documented := map[string]bool{}
	for _, l := range s.top {
		documented[keyOf(l)] = true
	}
	for _, k := range tomlKeys(reflect.TypeFor[daemon.Config]()) {
		if !documented[k] {
			t.Errorf("setting %q of daemon.Config is not in %s", k, shippedConfig)
		}
		delete(documented, k)
	}
	for k := range documented {
		t.Errorf("%s shows %q, which daemon.Config does not read", shippedConfig, k)
	}
}

// Every [[reader]] example parses once uncommented, shows every setting of its
// transport (as a setting or in the prose above it), with the default values.
func TestShippedReaderExamples(t *testing.T) {
	s := readShipped(t)
	base := s.withTerminal(t)
	want := map[string]struct {
		config   reflect.Type
		defaults any // the example decoded, when it shows the defaults
	}{
		"serial": {reflect.TypeFor[serial.Config](), &serial.Config{Port: "/dev/ttyUSB0", Baud: serial.DefaultBaud, Parity: "none", MaxFrame: serial.DefaultMaxFrame, Kind: string(device.KindBarcode)}},
		"pcsc":   {reflect.TypeFor[pcsc.Config](), &pcsc.Config{}},
		"hidpos": {reflect.TypeFor[hidpos.Config](), &hidpos.Config{}},
	}
	var seen []string
	for _, ex := range s.examples {
		t.Run(ex.typ, func(t *testing.T) {
			seen = append(seen, ex.typ)
			w, ok := want[ex.typ]
			if !ok {
				t.Fatalf("example of unknown type %q", ex.typ)
			}
			if !slices.Contains(device.Types(), ex.typ) {
				t.Fatalf("reader type %q is not registered (registered: %v)", ex.typ, device.Types())
			}
			table := uncomment(ex.settings)
			cfg := parse(t, base+"\n"+table)
			if len(cfg.Readers) != 1 || cfg.Readers[0].Type != ex.typ {
				t.Fatalf("readers %+v, want one of type %s", cfg.Readers, ex.typ)
			}

			shown := map[string]bool{"name": true, "type": true}
			for _, l := range ex.settings[1:] {
				shown[keyOf(l)] = true
			}
			for _, k := range tomlKeys(w.config) {
				if !shown[k] && !regexp.MustCompile(`\b`+k+`\b`).MatchString(ex.prose) {
					t.Errorf("setting %q of %s is neither shown nor explained", k, w.config)
				}
			}

			got := reflect.New(w.config).Interface()
			if _, err := toml.Decode(strings.Replace(table, "[[reader]]", "", 1), got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, w.defaults) {
				t.Errorf("the example does not show the defaults:\ngot  %+v\nwant %+v", got, w.defaults)
			}
		})
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"hidpos", "pcsc", "serial"}) {
		t.Errorf("reader examples %v, want one each of hidpos, pcsc and serial", seen)
	}
}
