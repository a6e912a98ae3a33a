package doctor

import (
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSerial(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "ttyUSB0")
	locked := touch(t, dir, "locked", 0o000)
	notDir := filepath.Join(touch(t, dir, "plain", 0o600), "ttyUSB0")

	// A port the dialout group may use, as udev sets up /dev/ttyUSB*.
	groupPort := touch(t, dir, "ttyUSB1", 0o660)
	dialout := chgrpDialout(t, groupPort)
	// A port owned by the service user itself.
	ownPort := touch(t, dir, "ttyUSB2", 0o600)
	owner := chownOther(t, ownPort)

	outsider := Identity{Name: "tilld", UID: 4242, GIDs: []int{4242}}
	member := Identity{Name: "tilld", UID: 4242, GIDs: []int{4242, dialout.gid}}
	enxio := func(path string) (io.Closer, error) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.ENXIO}
	}

	eacces := func(path string) (io.Closer, error) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}
	}

	tests := []struct {
		name       string
		path       string
		opts       SerialOptions
		want       Status
		wantDetail string
		wantFix    string
	}{
		{"missing adapter", missing, SerialOptions{}, Fail,
			"serial port " + missing + " missing: is the adapter plugged in?", "plug the adapter in; `ls -l /dev/serial/by-id/`"},
		{"chmod 000 needs the udev rule", locked, SerialOptions{User: outsider}, Fail,
			"serial port " + locked + ": user tilld may not open it (----------", UdevRules},
		{"chmod 000 also says which group", locked, SerialOptions{User: outsider}, Fail,
			"may not open it", "make sure user tilld is in group dialout: `adduser tilld dialout`"},
		{"not in the port's group", groupPort, SerialOptions{User: outsider}, Fail,
			"user tilld may not open it (-rw-rw---- ", "add user tilld to group " + dialout.name + ": `adduser tilld " + dialout.name + "`, then `systemctl restart tilld`"},
		{"in the port's group", groupPort, SerialOptions{User: member}, OK, groupPort + " opens for user tilld", ""},
		{"owner of the port", ownPort, SerialOptions{User: owner}, OK, ownPort + " opens", ""},
		{"path through a file", notDir, SerialOptions{}, Fail, "serial port " + notDir + ": stat", ConfigFile},
		{"device node without a device", groupPort, SerialOptions{User: member, Open: enxio}, Fail,
			"serial port " + groupPort + ": open: no such device or address", "no device answers: unplug and replug"},
		{"open refused to whoever runs the check", groupPort, SerialOptions{User: member, Open: eacces}, Fail,
			"open: permission denied", "run tillctl doctor as root (sudo)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Serial("front", tt.path, tt.opts)
			if got.Name != "serial front" {
				t.Errorf("name %q", got.Name)
			}
			checkResult(t, got.Run(context.Background()), tt.want, tt.wantDetail, tt.wantFix)
		})
	}
}

// TestSerialPTY opens a real pseudo-terminal, as a USB adapter's tty would be.
func TestSerialPTY(t *testing.T) {
	port := startPTY(t, t.TempDir())
	res := Serial("front", port, SerialOptions{}).Run(context.Background())
	checkResult(t, res, OK, port+" opens for user ", "")
}

// checkResult compares a result's status and looks for parts of its texts.
func checkResult(t *testing.T, got Result, want Status, detail, fix string) {
	t.Helper()
	if got.Status != want || !strings.Contains(got.Detail, detail) || !strings.Contains(got.Fix, fix) {
		t.Errorf("got %s %q\n  fix %q\nwant %s with detail containing %q and fix containing %q", got.Status, got.Detail, got.Fix, want, detail, fix)
	}
	if got.Status != OK && got.Fix == "" {
		t.Errorf("%s without a fix: %q", got.Status, got.Detail)
	}
}

func touch(t *testing.T, dir, name string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

type group struct {
	name string
	gid  int
}

// chgrpDialout gives path to group dialout when the test runs as root (as CI
// does); otherwise the file keeps the user's own group, which works as well
// for the checks: the test identities are in neither unless told.
func chgrpDialout(t *testing.T, path string) group {
	t.Helper()
	if os.Getuid() == 0 {
		g, err := user.LookupGroup("dialout")
		if err != nil {
			t.Fatalf("group dialout: %v (it exists on every Debian system)", err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, 0, gid); err != nil {
			t.Fatal(err)
		}
		return group{"dialout", gid}
	}
	gid := os.Getgid()
	name := strconv.Itoa(gid)
	if g, err := user.LookupGroupId(name); err == nil {
		name = g.Name
	}
	return group{name, gid}
}

// chownOther makes path belong to a user other than root when the test runs
// as root, and returns that user; otherwise it returns the running user.
func chownOther(t *testing.T, path string) Identity {
	t.Helper()
	if os.Getuid() == 0 {
		if err := os.Chown(path, 4343, 4343); err != nil {
			t.Fatal(err)
		}
		return Identity{Name: "tilld", UID: 4343, GIDs: []int{4343}}
	}
	return Identity{Name: "me", UID: os.Getuid(), GIDs: []int{os.Getgid()}}
}

// startPTY starts socat with a pseudo-terminal linked at dir/ttyV0 and stops
// it when the test ends.
func startPTY(t *testing.T, dir string) string {
	t.Helper()
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Fatal("socat not found; install it: apt-get install -y socat")
	}
	link := filepath.Join(dir, "ttyV0")
	cmd := exec.Command(socat, "pty,raw,echo=0,link="+link, "pty,raw,echo=0,link="+filepath.Join(dir, "ttyV1"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start socat: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		if fi, err := os.Stat(link); err == nil && fi.Mode()&fs.ModeCharDevice != 0 {
			return link
		}
		if time.Now().After(deadline) {
			t.Fatalf("socat made no pty at %s within 5s", link)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
