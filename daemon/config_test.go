package daemon

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
terminal = "S1-T1"
hq = "http://127.0.0.1:7460/"
hq_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
card_prefixes = ["2", "4600-4609"]

[[reader]]
name = "front"
type = "serial"
port = "/dev/ttyUSB0"
suffix = "CRLF"

[[reader]]
type = "fake"
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Terminal != "S1-T1" || cfg.DataDir != DefaultDataDir || cfg.Listen != DefaultListen || cfg.HQ != "http://127.0.0.1:7460" || cfg.LogLevel != "info" {
		t.Errorf("config = %+v", cfg)
	}
	if len(cfg.Readers) != 2 || cfg.Readers[0].Name != "front" || cfg.Readers[1].Name != "fake1" || cfg.Readers[1].Type != "fake" {
		t.Errorf("readers = %+v", cfg.Readers)
	}
}

func TestCompleteNamesWhatIsMissing(t *testing.T) {
	for conf, want := range map[string]string{
		`listen = "127.0.0.1:1"`:                    "terminal: missing",
		"terminal = \"T\"\nhq = \"http://hq:7460\"": "hq_key: missing",
	} {
		cfg, err := ParseConfig([]byte(conf))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Complete(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Complete(%q) = %v; want %q", conf, err, want)
		}
	}
}

func TestParseConfigErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct{ name, conf, want string }{
		{"unknown key", "terminal = \"T\"\nlisten_addr = \"x\"", `line 2: unknown setting "listen_addr"`},
		{"unknown reader key", "terminal = \"T\"\n[[reader]]\ntype = \"serial\"\nport = \"/dev/x\"\nbaudrate = 9600", `line 5: unknown setting "reader.baudrate"`},
		{"unknown reader type", "terminal = \"T\"\n[[reader]]\nname = \"r\"\ntype = \"carrier-pigeon\"", `reader[0] "r"`},
		{"bad hq", "terminal = \"T\"\nhq = \"ftp://x\"", "hq:"},
		{"bad key", "terminal = \"T\"\nhq_key = \"c2hvcnQ=\"", "hq_key: public key: 5 bytes"},
		{"bad listen", "terminal = \"T\"\nlisten = \"7450\"", "line 2: listen:"},
		{"bad prefix", "terminal = \"T\"\ncard_prefixes = [\"2x\"]", "card_prefixes"},
		{"bad retention", "terminal = \"T\"\nretention = \"3 months\"", "retention:"},
		{"bad level", "terminal = \"T\"\nlog_level = \"loud\"", "log_level"},
		{"duplicate reader", "terminal = \"T\"\n[[reader]]\nname = \"a\"\ntype = \"fake\"\n[[reader]]\nname = \"a\"\ntype = \"fake\"", "line 6: reader[1]: name \"a\" is used twice"},
		{"not toml", "terminal = ", "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.conf))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseConfig = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}
