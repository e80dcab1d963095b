// Package listener owns the proxy's sockets.
//
// A Manager opens one socket and one http.Server per ir.Bind and keeps them
// across config swaps (design §4.2): Reconcile only opens binds that are new,
// closes binds that disappeared, and reopens a bind whose protocol changed.
// An unchanged bind keeps its socket and its client connections.
//
// HTTP binds serve HTTP/1.1 and cleartext HTTP/2 with prior knowledge (the
// net/http server's UnencryptedHTTP2 protocol). The older "Upgrade: h2c"
// negotiation is not offered: RFC 9113 deprecated it and net/http dropped
// it; such requests are answered as HTTP/1.1.
//
// HTTPS binds terminate TLS (1.2 minimum, AEAD cipher suites only) and offer
// h2 and http/1.1 by ALPN. The certificate is chosen per handshake by a
// CertificateFunc, usually by SNI; a handshake for which it has no
// certificate fails with a TLS alert and a Debug log line, nothing more.
//
// Malformed input is left to net/http, configured by Options: a header block
// larger than MaxHeaderBytes gets 431, an unparsable request line 400, and
// ReadHeaderTimeout closes connections that send headers too slowly. (With
// h2c enabled, net/http first peeks 14 bytes for the HTTP/2 preface, so a
// connection that sends fewer bytes than that, never a valid request, waits
// for ReadHeaderTimeout before it is answered.)
//
// Before a bind's handler, a guard (guard.go) makes the checks net/http does
// not: the number of header fields (MaxHeaderCount, 431), path
// normalization (dot segments resolved, "//" merged, a path climbing above
// "/" refused with 400; see NormalizePath) and encoded slashes
// (EscapedSlashes), and a minimum request body rate (MinBodyRate after
// BodyRateGrace, 408). A body read that fails because of the client turns
// the handler's 5xx into 408 or 400. HTTP/2 runs with MaxConcurrentStreams
// streams per connection; net/http's own rapid-reset and CONTINUATION
// flood defences rely on it and on MaxHeaderBytes. ConnState, when set,
// reports connection state changes per bind (for metrics).
//
// Removing a bind is graceful: its socket is closed at once (so the port can
// be reused, e.g. by the same bind with a new protocol), idle connections are
// closed, and requests in flight may finish within Options.DrainTimeout.
package listener
