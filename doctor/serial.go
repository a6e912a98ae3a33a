package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/tilld/tilld/internal/sysdirs"
)

// Paths the fixes point at: where the tilld package installs its rules and
// configuration.
var ConfigFile = sysdirs.ConfigFile

const (
	UdevRules  = "/lib/udev/rules.d/60-tilld.rules"
	PolkitRule = "/usr/share/polkit-1/rules.d/60-tilld.rules"
)

// SerialOptions configure [Serial]. The zero value checks for the user running
// the check and opens ports for real.
type SerialOptions struct {
	// User is who must be able to open the port: the tilld service user (see
	// [LookupUser]). Zero means the user running the check.
	User Identity
	// Open opens the port read-write, as the reader would. Default: open(2)
	// with O_NOCTTY|O_NONBLOCK. Tests inject faults here.
	Open func(path string) (io.Closer, error)
}

// Serial checks that the serial port of the reader named reader exists and
// that opts.User may open it, then opens it (and closes it at once). Opening a
// port that tilld also has open is harmless: nothing is read.
func Serial(reader, path string, opts SerialOptions) Check {
	open := opts.Open
	if open == nil {
		open = openTTY
	}
	return Check{Name: "serial " + reader, Run: func(context.Context) Result {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return Result{Status: Fail,
				Detail: fmt.Sprintf("serial port %s missing: is the adapter plugged in?", path),
				Fix:    serialMissingFix(reader),
			}
		}
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("serial port %s: %v", path, err), Fix: "check the port setting in " + ConfigFile}
		}
		user := opts.User.orSelf()
		if a := user.mayReadWrite(fi); !a.ok {
			return Result{Status: Fail,
				Detail: fmt.Sprintf("serial port %s: %s may not open it (%s)", path, user, a.describe()),
				Fix:    permissionFix(user, a, "dialout", "USB serial adapters (ttyUSB, ttyACM)"),
			}
		}
		port, err := open(path)
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("serial port %s: open: %v", path, unwrapPath(err)), Fix: openFix(err)}
		}
		if err := port.Close(); err != nil {
			return Result{Status: Warn, Detail: fmt.Sprintf("serial port %s opens, but close failed: %v", path, err), Fix: "unplug and replug the adapter"}
		}
		return Result{Status: OK, Detail: fmt.Sprintf("%s opens for %s", path, user)}
	}}
}

// permissionFix says how user gets read-write access to a device file: join
// the group that has it, or let the tilld udev rule give it to group.
func permissionFix(user Identity, a access, group, what string) string {
	name := user.Name
	if name == "" {
		name = ServiceUser
	}
	if a.groupRW && a.gid != 0 {
		return fmt.Sprintf("add user %s to group %s: `adduser %s %s`, then `systemctl restart tilld`.", name, a.group, name, a.group)
	}
	return fmt.Sprintf("no group may open it: the udev rule %s gives group %s read-write access to %s. "+
		"Reinstall tilld if it is missing, then `udevadm control --reload-rules && udevadm trigger` (or replug the device), "+
		"and make sure user %s is in group %s: `adduser %s %s`.", UdevRules, group, what, name, group, name, group)
}

func openFix(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "run tillctl doctor as root (sudo) to check for the tilld user, or see the permission fix for group dialout: `adduser tilld dialout`."
	case errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.EIO):
		return "the device node is there but no device answers: unplug and replug the adapter."
	case errors.Is(err, syscall.EBUSY):
		return "another program holds the port exclusively: `fuser -v PORT` shows which."
	}
	return "unplug and replug the adapter; `dmesg | tail` shows what the kernel says about it."
}

// unwrapPath drops the *fs.PathError wrapper, whose text repeats the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
