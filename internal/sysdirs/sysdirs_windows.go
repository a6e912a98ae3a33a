// Package sysdirs says where tilld keeps its configuration, data and logs by
// default on this system: the Debian package's places on Linux, and
// %ProgramData%\tilld on Windows.
package sysdirs

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// Under %ProgramData%\tilld, which `tilld service install` and the .msi
// create; the service gives the data and log directories an ACL that keeps
// users other than SYSTEM and the Administrators out (cmd/tilld: SecureDirs).
var (
	Root       = root()
	ConfigFile = filepath.Join(Root, "tilld.toml")
	DataDir    = filepath.Join(Root, "data")
	LogDir     = filepath.Join(Root, "log")
)

// root is the ProgramData known folder's tilld. The known folder, not the
// %ProgramData% variable: a variable can differ between processes (under wine
// a service gets C:\users\Public, a console C:\ProgramData), and the service,
// the installer and tillctl must agree.
func root() string {
	pd, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil || pd == "" {
		if pd = os.Getenv("ProgramData"); pd == "" {
			pd = `C:\ProgramData`
		}
	}
	return filepath.Join(pd, "tilld")
}
