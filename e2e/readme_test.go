package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/internal/readme"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

var installDebs = flag.String("install.debs", "", "TestReadmeInstall: the directory of the .deb packages `make deb` built (`make deb-check` passes dist/)")

// A README test runs the commands of a README section one after the other,
// the way a person pastes them into one shell: an `export` carries over to
// the next command, a command ending in & runs in the background until the
// test ends. What this machine needs differently, and what the test checks,
// is said in tables: text replaced in every command, commands done another
// way (systemctl, as there is no systemd here), what a person would wait
// for before a command, and what a command must print. The tables are keyed
// by how a command starts in README.md, the longest key winning; every
// entry must be used, so a README edit that drops one fails the test.
type readmeRun struct {
	t       *testing.T
	source  string // where the commands come from, for messages (README.md)
	dir     string // the working directory
	env     []string
	envFile string // the exports so far, as `export -p` writes them
	replace []*replacement
	instead map[string]func(line string) string // by how the command starts
	before  map[string]func()                   // by how the command starts
	want    map[string][]string                 // by how the command starts: text its output must hold
	check   map[string]func(out string)         // by how the command starts: checks its output
	started []*proc                             // the commands run in the background, in order
}

type replacement struct {
	old, new string
	used     bool
}

func newReadmeRun(t *testing.T, dir string) *readmeRun {
	t.Helper()
	env := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(env, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The commands start from a shell that has no tillctl settings of its own.
	environ := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "TILLD_ADDR=") || strings.HasPrefix(kv, "TILLD_TOKEN_FILE=")
	})
	return &readmeRun{t: t, source: "README.md", dir: dir, env: environ, envFile: env,
		instead: map[string]func(string) string{}, before: map[string]func(){}, want: map[string][]string{}, check: map[string]func(string){}}
}

// replaceText replaces old by new in every command from now on.
func (r *readmeRun) replaceText(old, new string) {
	r.replace = append(r.replace, &replacement{old: old, new: new})
}

// section runs every command of the README section.
func (r *readmeRun) section(heading string) {
	t := r.t
	t.Helper()
	md, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.Section(md, heading)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	ran := 0
	for _, b := range blocks {
		if b.Info != "sh" {
			continue
		}
		cmds, err := readme.Commands(b)
		if err != nil {
			t.Fatalf("README.md: %v", err)
		}
		for _, c := range cmds {
			r.command(c)
			ran++
		}
	}
	if ran == 0 {
		t.Fatalf("README.md, %q: no commands in sh blocks", heading)
	}
	for _, rep := range r.replace {
		if !rep.used {
			t.Errorf("README.md, %q: no command has %q any more: the test replaces it with %q; change the test with the README", heading, rep.old, rep.new)
		}
	}
	for k := range r.instead {
		t.Errorf("README.md, %q: no command %q any more; change the test with the README", heading, k)
	}
	for k := range r.before {
		t.Errorf("README.md, %q: no command %q any more; change the test with the README", heading, k)
	}
	for k := range r.check {
		t.Errorf("README.md, %q: no command %q any more; change the test with the README", heading, k)
	}
	for k := range r.want {
		t.Errorf("README.md, %q: no command %q any more; change the test with the README", heading, k)
	}
}

// key returns the table key of a command: the longest key of the table
// that starts the command as README.md writes it.
func key[V any](table map[string]V, text string) (string, bool) {
	best, ok := "", false
	for k := range table {
		if strings.HasPrefix(text, k) && len(k) >= len(best) {
			best, ok = k, true
		}
	}
	return best, ok
}

var background = regexp.MustCompile(`&[ \t]*(#.*)?$`)

func (r *readmeRun) command(c readme.Command) {
	t := r.t
	t.Helper()
	text := c.Text
	for _, rep := range r.replace {
		if strings.Contains(text, rep.old) {
			rep.used = true
			text = strings.ReplaceAll(text, rep.old, rep.new)
		}
	}
	if k, ok := key(r.before, c.Text); ok {
		f := r.before[k]
		delete(r.before, k)
		f()
	}
	t.Logf("%s:%d $ %s", r.source, c.Line, text)
	var out string
	k, instead := key(r.instead, c.Text)
	switch {
	case instead:
		f := r.instead[k]
		delete(r.instead, k)
		out = f(text)
	case background.MatchString(text) && !strings.Contains(text, "\n"):
		text = text[:background.FindStringIndex(text)[0]]
		cmd := exec.Command("sh", "-c", ". "+r.envFile+"\nexec "+text)
		cmd.Dir, cmd.Env = r.dir, r.env
		p := startCmd(t, filepath.Base(strings.Fields(text)[0]), cmd)
		r.started = append(r.started, p)
		time.Sleep(100 * time.Millisecond)
		select {
		case <-p.done:
			t.Fatalf("%s:%d: %s exited at once: %v\n%s", r.source, c.Line, text, p.err, p.out)
		default:
		}
	default:
		cmd := exec.Command("sh", "-ec", ". "+r.envFile+"\n"+text+"\nexport -p >"+r.envFile)
		cmd.Dir, cmd.Env = r.dir, r.env
		b, err := cmd.CombinedOutput()
		out = string(b)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v\n%s", r.source, c.Line, text, err, out)
		}
	}
	t.Logf("%s", out)
	if k, ok := key(r.want, c.Text); ok {
		for _, w := range r.want[k] {
			if !strings.Contains(out, w) {
				t.Errorf("%s:%d: %s printed no %q:\n%s", r.source, c.Line, text, w, out)
			}
		}
		delete(r.want, k)
	}
	if k, ok := key(r.check, c.Text); ok {
		r.check[k](out)
		delete(r.check, k)
	}
}

// waitTill waits until the tilld at addr has a status that holds cond.
func waitTill(t *testing.T, c *localapi.Client, what string, cond func(till.Status) bool) {
	t.Helper()
	var last till.Status
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		last, err = c.Status(context.Background())
		if err == nil && cond(last) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s; last status %+v, %v", what, last, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scanOn presents card on the scanner's end of a socat pty pair, as the
// serial scanner would (CRLF after the number), and waits until the till
// counts the scan.
func scanOn(t *testing.T, scannerEnd string, c *localapi.Client, card string) {
	t.Helper()
	f, err := os.OpenFile(scannerEnd, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(card + "\r\n"); err != nil {
		t.Fatal(err)
	}
	waitTill(t, c, "the scan on the serial reader", func(s till.Status) bool {
		return len(s.Devices) == 1 && s.Devices[0].Scans == 1
	})
}

// tokenOf returns the token `tillhq terminal add` printed: its last line.
func tokenOf(t *testing.T, out string) string {
	t.Helper()
	lines := strings.Fields(out)
	if len(lines) == 0 || !strings.Contains(out, "enrollment token") {
		t.Fatalf("tillhq terminal add printed no token:\n%s", out)
	}
	return lines[len(lines)-1]
}

// allOK checks that tillctl doctor's summary says every check is ok.
func allOK(t *testing.T) func(string) {
	return func(out string) {
		t.Helper()
		m := regexp.MustCompile(`(?m)^(\d+) checks: (\d+) ok`).FindStringSubmatch(out)
		if m == nil || m[1] != m[2] {
			t.Errorf("tillctl doctor: not every check ok:\n%s", out)
		}
	}
}

// free fails the test when a fixed address of the README is taken.
func free(t *testing.T, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("README.md's commands use %s, which is taken here: %v", a, err)
		}
		ln.Close()
	}
}

// socatPTY starts socat with two linked ptys of group dialout, mode 0660, in
// a directory everyone can enter: the reader's end for tilld (its user is in
// dialout) and the scanner's end for the test.
func socatPTY(t *testing.T) (readerEnd, scannerEnd string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "tilld-readme-pty-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return ptyPairIn(t, dir, ",group=dialout,perm=0660")
}

// TestReadmeRunSeparately runs README.md's "Running tilld and tillhq
// separately" with the binaries the tests built, in a directory of its own.
func TestReadmeRunSeparately(t *testing.T) {
	free(t, "127.0.0.1:7450", "127.0.0.1:7460", "127.0.0.1:7461")
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	pty, scanner := ptyPair(t)
	r := newReadmeRun(t, tmp)
	r.replaceText("/tmp/", tmp+"/")
	r.replaceText("/dev/ttyUSB0", pty)
	r.replaceText("discount/example.toml", filepath.Join(repo, "discount", "example.toml"))
	for _, b := range []string{"tillhq", "tilld", "tillctl"} {
		r.replaceText("bin/"+b+" ", bin(b)+" ")
	}
	r.instead["make build"] = func(string) string { return "(the tests built the binaries)" }
	r.instead["bin/tillhq terminal add"] = func(line string) string {
		cmd := exec.Command("sh", "-c", line)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		r.replaceText("'TOKEN'", "'"+tokenOf(t, string(out))+"'")
		return string(out)
	}
	api := apiClient("127.0.0.1:7450", filepath.Join(tmp, "tilld"))
	r.before["bin/tillctl status"] = func() {
		waitTill(t, api, "tilld's first ruleset", func(s till.Status) bool { return s.RulesetVersion == 1 })
	}
	r.before["bin/tillctl quote"] = func() {
		waitTill(t, api, "the published ruleset at the till", func(s till.Status) bool { return s.RulesetVersion == 2 })
	}
	r.before["bin/tillhq report sales"] = func() {
		waitTill(t, api, "the sale at HQ", func(s till.Status) bool { return s.Outbox == 0 })
	}
	r.want["bin/tilld config check"] = []string{"terminal S1-T1, 1 readers"}
	r.want["bin/tillctl status"] = []string{"terminal   S1-T1", "rules      version 1", "front"}
	r.want["bin/tillctl sale"] = []string{"total 199.80 RUB"}
	r.want["bin/tillhq rules check"] = []string{"ok: version 2, RUB, 4 rules"}
	r.want["bin/tillhq rules publish"] = []string{"published version 2"}
	r.want["bin/tillctl quote"] = []string{"club-card", "total 193.81 RUB"}
	r.want["bin/tillhq report sales"] = []string{"S1-T1", "199.80 RUB"}
	r.want["bin/tillhq customers show"] = []string{"lifetime spend  199.80 RUB", "sales           1"}
	r.want["bin/tillhq customers find"] = []string{"no card holder's phone ends with 4567"}
	r.want["bin/tillhq customers purchases"] = []string{"sale", "S1-T1-1-", "199.80 RUB"}
	r.before["bin/tillhq report audit"] = func() {
		waitFor(t, 20*time.Second, "HQ's audit of the sale", func() bool {
			var rep wire.AuditReport
			resp, err := http.Get("http://127.0.0.1:7461" + wire.PathReportAudit)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			return json.NewDecoder(resp.Body).Decode(&rep) == nil && rep.Summary.Sales == 1 && rep.Summary.Waiting == 0
		})
	}
	r.want["bin/tillhq report audit"] = []string{"audited 1 sale: 0 flagged"}
	r.want["bin/tillhq report kpi --by region"] = []string{"REGION", "points expired: 0"}
	r.section("Running tilld and tillhq separately")
	scanOn(t, scanner, api, "2000000000015")

	// This till has a serial reader only: a scan presented without --reader
	// says it tried the demo's reader, and which readers there are.
	cmd := exec.Command(bin("tillctl"), "scan", "2000000000015")
	cmd.Env = append(slices.Clone(r.env), "TILLD_TOKEN_FILE="+filepath.Join(tmp, "tilld", localapi.TokenFile))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `no software reader "demo" (the default of --reader`) || !strings.Contains(string(out), "its readers: front (serial)") {
		t.Errorf("tillctl scan without --reader on a till without the demo's reader: %v\n%s", err, out)
	}

	// Stopped with SIGTERM, as systemd stops them, tilld and tillhq say they
	// are stopping, then that they stopped.
	for i := len(r.started) - 1; i >= 0; i-- {
		p := r.started[i]
		p.stop(t)
		out := p.out.String()
		stopping, stopped := strings.Index(out, p.name+" stopping"), strings.Index(out, p.name+" stopped")
		if stopping < 0 || stopped < stopping {
			t.Errorf("%s logged no %q, then %q on SIGTERM:\n%s", p.name, p.name+" stopping", p.name+" stopped", out)
		}
	}
}

// TestReadmeInstall runs README.md's "Install on a terminal (store IT)" on the
// packages `make deb` built: it installs them on this machine with apt, as
// root, and purges them at the end (`make deb-check` runs it, after
// packaging/check.sh).
func TestReadmeInstall(t *testing.T) {
	if *installDebs == "" {
		t.Skip("installs the .deb packages on this machine, as root: `make deb-check` runs it with -install.debs=dist")
	}
	if os.Geteuid() != 0 {
		t.Fatal("run as root: it installs and purges the tilld and tillhq packages")
	}
	free(t, "127.0.0.1:7450", "127.0.0.1:7460", "127.0.0.1:7461")
	dist, err := filepath.Abs(*installDebs)
	if err != nil {
		t.Fatal(err)
	}
	purge := func() {
		for _, p := range []string{"tilld", "tillhq"} {
			if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output(); err == nil && !strings.Contains(string(out), "not-installed") {
				run(t, "dpkg", "-P", p)
			}
		}
	}
	purge()
	t.Cleanup(purge)
	pty, scanner := socatPTY(t)

	r := newReadmeRun(t, dist)
	// apt asks before it installs a dependency (pcscd): answer yes, as the
	// person would.
	aptConf := filepath.Join(t.TempDir(), "apt.conf")
	if err := os.WriteFile(aptConf, []byte("APT::Get::Assume-Yes \"true\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.env = append(r.env, "DEBIAN_FRONTEND=noninteractive", "APT_CONFIG="+aptConf)
	r.replaceText("hq.example.com", "localhost")
	r.replaceText("/dev/ttyUSB0", pty)
	services := map[string]*proc{}
	// systemctl enable --now / restart UNIT: the unit's ExecStart= line, as
	// its User= and Group= with their groups, waited for until it serves.
	systemctl := func(line string) string {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		unit := strings.TrimSuffix(f[len(f)-1], ".service")
		if p := services[unit]; p != nil {
			p.stop(t)
		}
		file := "/lib/systemd/system/" + unit + ".service"
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		conf := string(raw)
		value := func(k string) string {
			m := regexp.MustCompile(`(?m)^` + k + `=(.*)$`).FindStringSubmatch(conf)
			if m == nil {
				t.Fatalf("%s has no %s=", file, k)
			}
			return m[1]
		}
		args := append([]string{"--reuid=" + value("User"), "--regid=" + value("Group"), "--init-groups", "--"}, strings.Fields(value("ExecStart"))...)
		p := startCmd(t, unit, exec.Command("setpriv", args...))
		ready := map[string]string{"tilld": "tilld running", "tillhq": "tillhq listening"}[unit]
		waitFor(t, 20*time.Second, unit+" to serve", func() bool {
			select {
			case <-p.done:
				t.Fatalf("%s exited: %v\n%s", unit, p.err, p.out)
			default:
			}
			return strings.Contains(p.out.String(), ready)
		})
		services[unit] = p
		return fmt.Sprintf("(started %s as its unit would: setpriv %s)", unit, strings.Join(args, " "))
	}
	r.instead["systemctl enable"] = systemctl
	r.instead["systemctl restart"] = systemctl
	r.instead["tillhq terminal add"] = func(line string) string {
		out := run(t, "sh", "-c", line)
		r.replaceText("'TOKEN'", "'"+tokenOf(t, out)+"'")
		return out
	}
	api := apiClient("127.0.0.1:7450", "/var/lib/tilld")
	r.before["tillctl doctor"] = func() {
		waitTill(t, api, "tilld's first ruleset", func(s till.Status) bool { return s.RulesetVersion == 1 && s.Online })
	}
	r.before["tillhq report sales"] = func() {
		waitTill(t, api, "the sale at HQ", func(s till.Status) bool { return s.Outbox == 0 })
	}
	r.want["runuser -u tillhq -- tillhq init"] = []string{"starter ruleset: /var/lib/tillhq/starter-rules.toml"}
	r.want["tilld config check"] = []string{"terminal S12-T3, 1 readers"}
	r.check["tillctl doctor"] = allOK(t)
	r.want["tillctl status"] = []string{"terminal   S12-T3", "rules      version 1", "front"}
	r.want["tillctl sale"] = []string{"total 199.80 RUB"}
	r.want["tillhq report sales"] = []string{"S12-T3", "199.80 RUB"}
	r.section("Install on a terminal (store IT)")
	// The reader works as installed: tilld, its user in group dialout, reads
	// a card from the serial port.
	scanOn(t, scanner, api, "2000000000015")
	if p := services["tilld"]; p != nil && t.Failed() {
		t.Logf("tilld:\n%s", p.out)
	}
}
