package doctor

import "fmt"

// The fixes that name Windows' tools: the Smart Card service (SCardSvr) in
// place of pcscd, COM ports, Device Manager.

func pcscUnreachableFix() string {
	return "start the Smart Card service: `Start-Service SCardSvr` and `Set-Service SCardSvr -StartupType Automatic` " +
		"in an administrator's PowerShell (Windows otherwise starts it only while a reader is plugged in)."
}

const pcscNoReaderFix = "plug the reader in; Device Manager lists it under \"Smart card readers\". One under \"Other devices\" " +
	"has no driver: install its maker's (CCID readers need none)."

// usbList is where Windows shows a USB device's vid:pid (VID_xxxx&PID_xxxx).
const usbList = "`Get-PnpDevice -Class HIDClass | Select FriendlyName, InstanceId`"

func serialMissingFix(reader string) string {
	return fmt.Sprintf("plug the adapter in; Device Manager, \"Ports (COM & LPT)\", lists the COM ports. "+
		"If it shows up under another number, set port of reader %q in %s to it, or give the adapter a fixed COM number "+
		"in its port settings (Advanced), which stays the same across reboots and USB sockets.", reader, ConfigFile)
}
