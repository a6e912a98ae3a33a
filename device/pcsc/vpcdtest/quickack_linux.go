package vpcdtest

import (
	"net"
	"syscall"
)

// quickAck asks the kernel to acknowledge the next segment at once rather
// than delay the ACK; Linux resets the flag after use, so it is set before
// every read.
func quickAck(c *net.TCPConn) {
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1) // only a speed-up
	})
}
