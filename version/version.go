// Package version carries the build's version, stamped by the linker:
// go build -ldflags '-X github.com/tilld/tilld/version.Version=v1.2.3'.
package version

// Version is "dev" in a build that was not stamped.
var Version = "dev"
