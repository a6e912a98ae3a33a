//go:build !windows

package doctor

import "fmt"

// The fixes that name the system's own tools: Debian's here, Windows' in
// hints_windows.go.

func pcscUnreachableFix() string {
	return fmt.Sprintf("install and start it: `apt-get install pcscd`, `systemctl enable --now pcscd.socket`. "+
		"If it runs, the polkit rule %s must let user %s use it: `journalctl -u pcscd` shows refusals.", PolkitRule, ServiceUser)
}

const pcscNoReaderFix = "plug the reader in; `pcsc_scan` (package pcsc-tools) shows what pcscd sees; most USB readers need package libccid."

// usbList is the command that lists USB devices with their vid:pid.
const usbList = "`lsusb`"

func serialMissingFix(reader string) string {
	return fmt.Sprintf("plug the adapter in; `ls -l /dev/serial/by-id/` lists the connected ones. "+
		"If it shows up under another name, set port of reader %q in %s to its /dev/serial/by-id/ link, which stays the same across reboots.", reader, ConfigFile)
}
