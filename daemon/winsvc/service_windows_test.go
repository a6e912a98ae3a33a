package winsvc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/tilld/tilld/internal/sysdirs"
)

// tilldExe is the tilld.exe under test: scripts/windows-test.sh builds it and
// names it in TILLD_WINDOWS_EXE.
func tilldExe(t *testing.T) string {
	exe := os.Getenv("TILLD_WINDOWS_EXE")
	if exe == "" {
		t.Fatal("TILLD_WINDOWS_EXE is not set: run this test with scripts/windows-test.sh, which builds tilld.exe")
	}
	return exe
}

// TestService installs tilld.exe as a service with `tilld service install`,
// checks what the service control manager holds (command line, recovery
// actions), starts it and reaches its local API, checks its log file, stops
// it (a clean stop), starts it with a wrong configuration (a final failure,
// reported as a clean stop so that it is not restarted), and removes it with
// `tilld service remove`. Under wine the service lives as long as this
// process: wine ends services.exe with the prefix's last program.
func TestService(t *testing.T) {
	exe := tilldExe(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	conf := filepath.Join(dir, "tilld.toml")
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, conf, fmt.Sprintf("terminal = \"T1\"\ndata_dir = %q\nlisten = %q\n", data, addr))

	tilld(t, exe, "service", "install", "--manual", "--config", conf)
	t.Cleanup(func() { _ = Remove(30 * time.Second) })

	m, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		t.Fatalf("the service is not there after install: %v", err)
	}
	// mgr's Config also asks for the delayed start, which wine refuses
	// (ERROR_INVALID_LEVEL): QueryServiceConfig alone.
	buf := make([]byte, 8192)
	qc := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&buf[0]))
	var need uint32
	if err := windows.QueryServiceConfig(s.Handle, qc, uint32(len(buf)), &need); err != nil {
		t.Fatal(err)
	}
	if cmd := windows.UTF16PtrToString(qc.BinaryPathName); !strings.Contains(cmd, "service run --config") || !strings.Contains(cmd, conf) || qc.StartType != mgr.StartManual {
		t.Errorf("service config: command line %q, start type %d", cmd, qc.StartType)
	}
	switch actions, err := s.RecoveryActions(); {
	case errors.Is(err, windows.ERROR_INVALID_LEVEL):
		// Wine 8.0 takes the actions but cannot report them (nor run them).
		t.Logf("recovery actions: this system cannot report them: %v", err)
	case err != nil:
		t.Fatalf("recovery actions: %v", err)
	case !slices.Equal(actions, Recovery):
		t.Errorf("recovery actions %+v, want %+v", actions, Recovery)
	}

	if err := s.Start(); err != nil {
		st, qerr := s.Query()
		t.Fatalf("start: %v (the service now: state %d, exit code %d, service exit code %d, %v)", err, st.State, st.Win32ExitCode, st.ServiceSpecificExitCode, qerr)
	}
	waitState(t, s, svc.Running)
	waitFor(t, "tilld's local API", func() bool {
		resp, err := http.Get("http://" + addr + "/v1/status")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	if err := Stop(s, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Query(); st.Win32ExitCode != 0 {
		t.Errorf("a stop asked for ended with exit code %d, want 0", st.Win32ExitCode)
	}
	if _, err := os.Stat(filepath.Join(data, "ledger.db")); err != nil {
		t.Errorf("the service ran without a ledger: %v", err)
	}
	logFile := filepath.Join(sysdirs.LogDir, "tilld.log")
	if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), "tilld running") {
		t.Errorf("the log file %s: %v, does not say \"tilld running\":\n%s", logFile, err, b)
	}

	// A wrong configuration: tilld exits 78, which restarting cannot fix.
	write(t, conf, "terminal = 42\n")
	if err := s.Start(); err != nil {
		t.Fatalf("start with a wrong configuration: %v", err)
	}
	waitState(t, s, svc.Stopped)
	if st, _ := s.Query(); st.Win32ExitCode != 0 {
		t.Errorf("a final failure ended with exit code %d, want 0 (no restart)", st.Win32ExitCode)
	}

	s.Close() // a service is deleted once its last handle closes
	tilld(t, exe, "service", "remove")
	if s2, err := m.OpenService(Name); err == nil {
		s2.Close()
		t.Error("the service is still there after remove")
	}
}

// TestACLs checks the ACLs SecureDir sets, as Windows parses them: protected
// (nothing inherited from %ProgramData%), inherited by what is created inside,
// and the data directory's for SYSTEM and the Administrators only. It then
// sets one on a directory. Wine 8.0 takes the call and does not keep the ACL
// (reading it back gives wine's default, and files are the Unix user's), so
// that other users are kept out is argued, not tested.
func TestACLs(t *testing.T) {
	system, _ := windows.CreateWellKnownSid(windows.WinLocalSystemSid)
	admins, _ := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	users, _ := windows.CreateWellKnownSid(windows.WinBuiltinUsersSid)
	for _, tt := range []struct {
		sddl string
		want []*windows.SID
	}{
		{PrivateSDDL, []*windows.SID{system, admins}},
		{ConfigSDDL, []*windows.SID{system, admins, users}},
	} {
		sd, err := windows.SecurityDescriptorFromString(tt.sddl)
		if err != nil {
			t.Fatalf("%s: %v", tt.sddl, err)
		}
		if c, _, err := sd.Control(); err != nil || c&windows.SE_DACL_PROTECTED == 0 {
			t.Errorf("%s: not protected (control %#x, %v)", tt.sddl, c, err)
		}
		dacl, _, err := sd.DACL()
		if err != nil {
			t.Fatal(err)
		}
		if int(dacl.AceCount) != len(tt.want) {
			t.Fatalf("%s: %d entries, want %d", tt.sddl, dacl.AceCount, len(tt.want))
		}
		for i, sid := range tt.want {
			var ace *windows.ACCESS_ALLOWED_ACE
			if err := windows.GetAce(dacl, uint32(i), &ace); err != nil {
				t.Fatal(err)
			}
			got := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
			if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || !got.Equals(sid) ||
				ace.Header.AceFlags&(windows.OBJECT_INHERIT_ACE|windows.CONTAINER_INHERIT_ACE) != windows.OBJECT_INHERIT_ACE|windows.CONTAINER_INHERIT_ACE {
				t.Errorf("%s: entry %d is %s (type %d, flags %#x), want %s allowed, inherited", tt.sddl, i, got, ace.Header.AceType, ace.Header.AceFlags, sid)
			}
		}
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := SecureDir(dir, PrivateSDDL); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("SecureDir did not create %s: %v", dir, err)
	}
}

func tilld(t *testing.T, exe string, args ...string) {
	t.Helper()
	out, err := exec.Command(exe, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tilld %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("tilld %s: %s", strings.Join(args, " "), out)
}

func waitState(t *testing.T, s *mgr.Service, want svc.State) {
	t.Helper()
	waitFor(t, fmt.Sprintf("service state %d", want), func() bool {
		st, err := s.Query()
		return err == nil && st.State == want
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func write(t *testing.T, path, s string) {
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
