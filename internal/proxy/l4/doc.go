// Package l4 serves the proxy's layer-4 binds: TLS (TLSRoute, routed by the
// ClientHello's server name, passed through or terminated per listener)
// and TCP (TCPRoute, every connection of a listener to its route's
// backends).
//
// A Table is compiled from the IR (TLS and TCP listeners, L4Routes and the
// Backends they use) and swapped atomically; a connection looks the table up
// once, when it arrives, so config changes never touch established
// connections. The listener manager (internal/proxy/listener, stream.go)
// owns the sockets and the connection accounting (drain on removal and
// shutdown); this package decides where each connection goes and splices
// the bytes.
package l4
