//go:build !windows

// Package sysdirs says where tilld keeps its configuration, data and logs by
// default on this system: the Debian package's places on Linux, and
// %ProgramData%\tilld on Windows.
package sysdirs

// The Debian package's places.
const (
	ConfigFile = "/etc/tilld/tilld.toml"
	DataDir    = "/var/lib/tilld"
)
