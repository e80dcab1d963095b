//go:build unix

package upstream

import (
	"net"
	"syscall"
)

// nothingToRead peeks at the socket without blocking: it is idle and open
// when the peek would block. A deadline cannot do this, since net.Conn
// fails a read whose deadline has passed without trying the socket.
func nothingToRead(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	idle := false
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		idle = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait for readiness
	})
	return err == nil && idle
}
