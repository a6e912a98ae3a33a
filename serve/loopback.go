package serve

import "net/netip"

// Loopback reports whether host (a name or an IP address, without a port)
// is this machine only: "localhost" or a loopback address. Any other name is
// not, whatever it resolves to now: what it resolves to can change.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
