package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/internal/sysdirs"
	"github.com/tilld/tilld/internal/tomlpos"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// Defaults of the configuration file's settings.
const DefaultListen = localapi.DefaultAddr

// Defaults that depend on the system (internal/sysdirs).
var (
	DefaultDataDir    = sysdirs.DataDir
	DefaultConfigFile = sysdirs.ConfigFile
)

// Config is tilld.toml, decoded and checked. The zero value of every field but
// Terminal means its default.
type Config struct {
	// Terminal is this till's id, unique in the chain (e.g. "S12-T3").
	Terminal string `toml:"terminal"`
	// Store and Region say where the till sells, for rules scoped to them.
	// Store defaults to the store enrollment named.
	Store  string `toml:"store"`
	Region string `toml:"region"`
	// DataDir holds the ledger file (default /var/lib/tilld).
	DataDir string `toml:"data_dir"`
	// Listen is the local API's loopback address (default 127.0.0.1:7450).
	Listen string `toml:"listen"`
	// RemoteAPI allows a Listen address that other machines reach (a LAN
	// address, or every interface); each of their requests then needs the
	// API token. Without it such an address is refused.
	RemoteAPI bool `toml:"remote_api"`
	// Socket is a unix socket the local API serves on too (default
	// DataDir/api.sock; "off": none; not on Windows). Its mode is 0660, in
	// the data directory: tilld's user and group connect, the same people
	// who may read the API's token file, so a request over it needs no
	// token.
	Socket string `toml:"socket"`
	// HQ is HQ's base URL, or the URLs of several HQ replicas separated by
	// commas: the till calls the first and, when it gets no answer, the
	// next; empty runs the till stand-alone (nothing is synced).
	HQ string `toml:"hq"`
	// HQKey is HQ's rules-signing public key (base64, as `tillhq init` prints
	// it); rulesets that do not verify with it are refused. Required with HQ.
	HQKey string `toml:"hq_key"`
	// CardPrefixes are the barcode ranges that are loyalty cards (default ["2"]).
	CardPrefixes []string `toml:"card_prefixes"`
	// TrackPrefixes restrict the magstripe PAN ranges accepted as cards.
	TrackPrefixes []string `toml:"track_prefixes"`
	// CardPatterns are regular expressions with one capture group that pull a
	// card number out of QR or Code 128 payloads.
	CardPatterns []string `toml:"card_patterns"`
	// LogLevel is debug, info, warn or error (default info).
	LogLevel string `toml:"log_level"`
	// Retention prunes sales HQ has acknowledged once they are older than this
	// ("90d", "2160h"); empty or "0" keeps everything.
	Retention string `toml:"retention"`

	// Readers are the configured card readers, built (not opened) by their
	// transports' factories.
	Readers []Reader `toml:"-"`
}

// Reader is one [[reader]] table of the configuration.
type Reader struct {
	Name   string
	Type   string
	Reader device.Reader
}

// ErrConfig is wrapped by every configuration error: the service manager should
// not restart a daemon whose configuration is wrong (cmd/tilld exits 78, EX_CONFIG).
var ErrConfig = errors.New("config")

// ParseConfig decodes a tilld.toml. Every problem is reported with the setting
// it concerns; unknown keys are errors, so a typo never silently falls back to a
// default.
func ParseConfig(data []byte) (Config, error) {
	var file struct {
		Config
		Readers []toml.Primitive `toml:"reader"`
	}
	md, err := toml.Decode(string(data), &file)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg := file.Config
	var problems []string
	loc := tomlpos.Locate(data)
	say := func(key, msg string) {
		if n := lineOf(loc, key); n > 0 {
			msg = fmt.Sprintf("line %d: %s", n, msg)
		}
		problems = append(problems, msg)
	}
	for i, p := range file.Readers {
		table := fmt.Sprintf("reader[%d]", i+1)
		var head struct {
			Name string `toml:"name"`
			Type string `toml:"type"`
		}
		if err := md.PrimitiveDecode(p, &head); err != nil {
			say(table, fmt.Sprintf("reader[%d]: %v", i, err))
			continue
		}
		if head.Name == "" {
			head.Name = fmt.Sprintf("%s%d", head.Type, i)
		}
		r, err := device.Open(head.Name, head.Type, func(v any) error { return md.PrimitiveDecode(p, v) })
		if err != nil {
			say(table, fmt.Sprintf("reader[%d] %q: %v", i, head.Name, err))
			continue
		}
		for _, other := range cfg.Readers {
			if other.Name == head.Name {
				say(table+".name", fmt.Sprintf("reader[%d]: name %q is used twice", i, head.Name))
			}
		}
		cfg.Readers = append(cfg.Readers, Reader{Name: head.Name, Type: head.Type, Reader: r})
	}
	for _, k := range md.Undecoded() {
		say(k.String(), fmt.Sprintf("unknown setting %q", k.String()))
	}
	for _, pr := range cfg.check() {
		say(pr[0], pr[0]+": "+pr[1])
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return cfg.withDefaults(), nil
}

func (c Config) check() [][2]string {
	var p [][2]string
	if c.Listen != "" {
		if err := checkListen(c.Listen, c.RemoteAPI); err != nil {
			p = append(p, [2]string{"listen", err.Error()})
		}
	}
	if c.Socket != "" && c.Socket != "off" && !filepath.IsAbs(c.Socket) {
		p = append(p, [2]string{"socket", fmt.Sprintf("%q is not an absolute path (or \"off\")", c.Socket)})
	}
	if c.HQ != "" {
		for _, b := range hqclient.SplitBases(c.HQ) {
			if u, err := url.Parse(b); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p = append(p, [2]string{"hq", fmt.Sprintf("%q is not an http(s) URL (several HQ replicas are listed with commas)", b)})
			}
		}
	}
	if c.HQKey != "" {
		if _, err := wire.ParsePublicKey(c.HQKey); err != nil {
			p = append(p, [2]string{"hq_key", err.Error()})
		}
	}
	if err := (device.IdentifyOptions{CardPrefixes: c.CardPrefixes, TrackPrefixes: c.TrackPrefixes, CardPatterns: c.CardPatterns}).Validate(); err != nil {
		p = append(p, [2]string{"card_prefixes", err.Error()})
	}
	if _, err := ParseAge(c.Retention); err != nil {
		p = append(p, [2]string{"retention", err.Error()})
	}
	if c.LogLevel != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
			p = append(p, [2]string{"log_level", fmt.Sprintf("%q is not debug, info, warn or error", c.LogLevel)})
		}
	}
	return p
}

// Complete reports what a terminal cannot run without, once the enrollment
// identity (if any) has filled in what the file left out.
func (c Config) Complete() error {
	var p []string
	if c.Terminal == "" {
		p = append(p, "terminal: missing (enroll this till with `tilld enroll`, or set this till's id, e.g. \"S12-T3\")")
	}
	if err := checkListen(c.Listen, c.RemoteAPI); c.Listen != "" && err != nil {
		p = append(p, "listen: "+err.Error())
	}
	if c.HQ != "" && c.HQKey == "" {
		p = append(p, "hq_key: missing (enroll this till, or set HQ's rules key printed by `tillhq init`); without it no ruleset can be trusted")
	}
	if len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(p, "; "))
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	switch c.Socket {
	case "":
		c.Socket = filepath.Join(c.DataDir, SocketFile)
	case "off":
		c.Socket = ""
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Retention == "" {
		c.Retention = "0"
	}
	c.HQ = strings.Join(hqclient.SplitBases(c.HQ), ",")
	return c
}

// SocketFile is the local API's unix socket in the data directory, unless
// tilld.toml's socket says otherwise.
const SocketFile = "api.sock"

// checkListen checks the local API's address: host:port, on loopback unless
// remote allows more. A host name other than localhost is refused too: what
// it resolves to can change.
func checkListen(listen string, remote bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("%q is not host:port", listen)
	}
	if remote || serve.Loopback(host) {
		return nil
	}
	what := fmt.Sprintf("host %q", host)
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		what = "every network interface"
	}
	return fmt.Errorf("%q listens on %s, not on loopback: other machines could reach the till's API. "+
		"Use 127.0.0.1:PORT, or set remote_api = true to allow it (every request from another machine then needs the API token)", listen, what)
}

// ParseAge reads an age such as "90d", "36h" or "0" (days are 24 hours).
func ParseAge(s string) (time.Duration, error) {
	switch s = strings.TrimSpace(s); {
	case s == "" || s == "0":
		return 0, nil
	case strings.HasSuffix(s, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want a number of days such as \"90d\"", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want an age such as \"90d\" or \"2160h\"", s)
	}
	return d, nil
}

// lineOf finds the line of a setting: key is a path as the TOML library names it
// ("listen", "reader.baud") or as the locator does ("reader[2].name").
func lineOf(loc tomlpos.Locator, key string) int {
	if n := loc.Line(key); n > 0 {
		return n
	}
	best := 0
	for path, n := range loc {
		if stripIndexes(path) == key && (best == 0 || n < best) {
			best = n
		}
	}
	return best
}

func stripIndexes(path string) string {
	var b strings.Builder
	depth := 0
	for _, r := range path {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}
