package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/sync/hqclient"
)

// Start-up failures. New wraps every failure it can tell apart in one of these
// or in ErrConfig, ErrNotEnrolled, ledger.ErrCorrupt, ledger.ErrLocked or
// ledger.ErrDiskFull, in a message that says what failed, where, and what to
// do; cmd/tilld exits with the class's code (ExitCodes).
var (
	// ErrNoDataDir: the data directory does not exist (or is not a directory).
	// tilld does not create it: an empty one where the ledger should be would
	// start a new chain of sales beside the one HQ has.
	ErrNoDataDir = errors.New("the data directory does not exist")
	// ErrPermission: the data directory or a file in it belongs to another
	// user than the one tilld runs as, or may not be opened by it.
	ErrPermission = errors.New("tilld may not use its data directory")
	// ErrReadOnlyFS: the data directory's file system refuses writes: it is
	// mounted read-only, or the disk fails (I/O error).
	ErrReadOnlyFS = errors.New("the data directory's file system refuses writes")
	// ErrListen: the local API cannot listen on its address (another program
	// holds it).
	ErrListen = errors.New("the local API cannot listen")
)

// ExitCode is a class of start-up failure and the exit status cmd/tilld gives it.
type ExitCode struct {
	Code int
	Err  error  // the class: errors.Is(err, Err)
	What string // for `tilld --help` and the documentation
	// Final says that starting again cannot help until a person acts: the
	// unit's RestartPreventExitStatus lists it, so systemd stops retrying.
	Final bool
}

// ExitCodes are tilld's exit statuses, one per class of start-up failure; the
// first class an error is in decides. 0 is a clean stop, 1 any other error.
// Codes are taken from sysexits.h where one fits.
var ExitCodes = []ExitCode{
	{78, ErrConfig, "the configuration file is wrong (EX_CONFIG)", true},
	{67, ErrNotEnrolled, "the till is not enrolled: `tilld enroll` first (EX_NOUSER)", true},
	{66, ErrNoDataDir, "the data directory does not exist (EX_NOINPUT)", false},
	{77, ErrPermission, "the data directory or its files belong to another user (EX_NOPERM)", true},
	{74, ErrReadOnlyFS, "the data directory's file system is read-only or fails (EX_IOERR)", false},
	{73, ledger.ErrDiskFull, "the disk is full and the ledger cannot be created (EX_CANTCREAT); with a ledger, tilld starts and refuses only sales", false},
	{65, ledger.ErrCorrupt, "the ledger file is damaged: tilld never replaces it (EX_DATAERR)", true},
	{75, ledger.ErrLocked, "another tilld holds the ledger (EX_TEMPFAIL)", false},
	{69, ErrListen, "the local API's address is taken (EX_UNAVAILABLE)", false},
}

// EnrollExitCodes are `tilld enroll`'s exit statuses besides 0 and 1.
var EnrollExitCodes = []ExitCode{
	{76, hqclient.ErrWrongName, "HQ's certificate does not cover the address in --hq: nothing was sent or written (EX_PROTOCOL)", true},
}

// ExitCodeOf returns the exit status for err: its class's code, 1 for an error
// of no class, 0 for nil.
func ExitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	for _, c := range append(ExitCodes[:len(ExitCodes):len(ExitCodes)], EnrollExitCodes...) {
		if errors.Is(err, c.Err) {
			return c.Code
		}
	}
	return 1
}

// checkDataDir checks that the data directory exists and belongs to the user
// tilld runs as.
func checkDataDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s (data_dir). Create it for the user tilld runs as (install -d -m 0750 -o tilld -g tilld %s), "+
			"or, if it lives on its own disk, mount that disk; tilld does not create it", ErrNoDataDir, dir, dir)
	case err != nil:
		return fileError(dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s (data_dir) is not a directory", ErrNoDataDir, dir)
	}
	return checkOwner(dir, dir, fi)
}

// checkOwners checks that those of paths (in the data directory dir) that
// exist belong to the user tilld runs as: a file it cannot write, or that it
// would leave to another user, fails later, in the middle of the day.
func checkOwners(dir string, paths ...string) error {
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fileError(dir, err)
		}
		if err := checkOwner(dir, p, fi); err != nil {
			return err
		}
	}
	return nil
}

func checkOwner(dir, path string, fi fs.FileInfo) error {
	uid, ok := ownerUID(fi)
	me := os.Geteuid()
	if !ok || me < 0 || uid == me {
		return nil
	}
	owner, meName := userName(uid), userName(me)
	return fmt.Errorf("%w: %s belongs to %s (uid %d), but tilld runs as %s (uid %d). Run tilld as %s (runuser -u %s -- tilld run; the service runs as tilld), "+
		"or give the data directory to %s: chown -R %s %s",
		ErrPermission, path, owner, uid, meName, me, owner, owner, meName, meName, dir)
}

// userName is the name of the user uid, or the number when it has none.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// fileError classes an error of the file system in the data directory dir,
// keeping the error as it is when it is of no class.
func fileError(dir string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		me := userName(os.Geteuid())
		return fmt.Errorf("%w: %w. Give %s to the user tilld runs as, %s (chown -R), or run tilld as its owner", ErrPermission, err, dir, me)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: %w. The file system of %s is mounted read-only (Linux does so after disk errors: dmesg says why); "+
			"fix the disk and remount it read-write", ErrReadOnlyFS, err, dir)
	case errors.Is(err, syscall.EIO):
		return fmt.Errorf("%w: %w. The disk of %s fails: check it (dmesg, smartctl); keep the ledger file", ErrReadOnlyFS, err, dir)
	case errors.Is(err, ledger.ErrDiskFull):
		return fmt.Errorf("%w. Free space on the file system of %s (df -h %s shows it), then start tilld again", err, dir, dir)
	}
	return err
}

// listenError says why the local API cannot listen on addr.
func listenError(addr string, err error) error {
	hint := "set listen in tilld.toml to a free loopback address"
	if errors.Is(err, syscall.EADDRINUSE) {
		_, port, _ := net.SplitHostPort(addr)
		hint = fmt.Sprintf("another program holds it (another tilld? `ss -ltnp 'sport = :%s'` names it): stop it, or %s", port, hint)
	}
	return fmt.Errorf("%w on %s (listen): %w. To fix: %s", ErrListen, addr, err, hint)
}
