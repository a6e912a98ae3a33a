package daemon

import (
	"errors"
	"fmt"
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
		{"bad hq in a list", "terminal = \"T\"\nhq = \"https://a:7460, hq-b:7460\"", `"hq-b:7460" is not an http(s) URL`},
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

// TestListenStaysOnLoopback: an address other machines reach is refused, by
// the file's check and by Complete (which sees command-line overrides), unless
// remote_api allows it.
func TestListenStaysOnLoopback(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:7450", "localhost:7450", "[::1]:7450", "127.0.0.5:1"} {
		cfg, err := ParseConfig([]byte(fmt.Sprintf("terminal = \"T\"\nlisten = %q", listen)))
		if err != nil || cfg.Complete() != nil {
			t.Errorf("listen %q: %v %v", listen, err, cfg.Complete())
		}
	}
	for listen, says := range map[string]string{
		"0.0.0.0:7450":     "every network interface",
		":7450":            "every network interface",
		"[::]:7450":        "every network interface",
		"192.168.1.5:7450": `host "192.168.1.5"`,
		"till7.lan:7450":   `host "till7.lan"`,
	} {
		conf := fmt.Sprintf("terminal = \"T\"\nlisten = %q", listen)
		_, err := ParseConfig([]byte(conf))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "line 2: listen: ") || !strings.Contains(err.Error(), says) || !strings.Contains(err.Error(), "remote_api = true") {
			t.Errorf("listen %q: %v; want a config error on line 2 saying %q and naming remote_api", listen, err, says)
		}
		cfg, err := ParseConfig([]byte("terminal = \"T\"\nremote_api = true\nlisten = " + fmt.Sprintf("%q", listen)))
		if err != nil || !cfg.RemoteAPI || cfg.Complete() != nil {
			t.Errorf("listen %q with remote_api: %v %v", listen, err, cfg.Complete())
		}
		// As `tilld run --listen` overrides it.
		cfg, _ = ParseConfig([]byte(`terminal = "T"`))
		cfg.Listen = listen
		if err := cfg.Complete(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), says) {
			t.Errorf("override listen %q: Complete = %v; want a config error saying %q", listen, err, says)
		}
	}
}
