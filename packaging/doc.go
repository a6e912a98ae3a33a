// Package packaging holds the Debian packaging of tilld and tillhq: nfpm
// configurations, systemd units, udev and polkit rules, maintainer scripts,
// the shipped tilld.toml, and build.sh and check.sh, which build and inspect
// the packages. Its Go code is tests only: they keep the shipped files in step
// with the code (every setting of daemon.Config documented with its default,
// the udev rules covering the known HID scanners, the paths doctor's fixes
// name).
package packaging
