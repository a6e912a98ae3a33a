// Package sysdirs says where tilld keeps its configuration, data and logs by
// default on this system: the Debian package's places on Linux, and
// %ProgramData%\tilld on Windows.
package sysdirs

import (
	"os"
	"path/filepath"
)

// Under %ProgramData%\tilld, which `tilld service install` and the .msi
// create; the service gives the data and log directories an ACL that keeps
// users other than SYSTEM and the Administrators out (winsvc.SecureDirs).
var (
	Root       = root()
	ConfigFile = filepath.Join(Root, "tilld.toml")
	DataDir    = filepath.Join(Root, "data")
	LogDir     = filepath.Join(Root, "log")
)

// root is %ProgramData%\tilld (C:\ProgramData\tilld when the variable is unset).
func root() string {
	pd := os.Getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return filepath.Join(pd, "tilld")
}
