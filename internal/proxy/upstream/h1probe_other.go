//go:build !unix

package upstream

import "net"

// nothingToRead cannot peek here; a closed connection is found when used
// (idempotent requests are then sent again).
func nothingToRead(net.Conn) bool { return true }
