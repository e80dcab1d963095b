package l4

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// errHelloRead stops the handshake once the ClientHello has been seen.
var errHelloRead = errors.New("l4: ClientHello read")

// maxHelloBytes bounds what is buffered while reading a ClientHello: TLS
// records are at most 16 KiB plus header, and a hello may span a few.
const maxHelloBytes = 64 << 10

// readClientHello reads a TLS ClientHello from r without answering it. It
// returns the hello's server name and every byte read, which must be
// replayed to whoever terminates the TLS session. crypto/tls does the
// parsing: a server handshake runs on a read-only connection and is stopped
// from GetConfigForClient, so nothing is ever written to the client.
func readClientHello(r io.Reader) (serverName string, raw []byte, err error) {
	rec := &recordingConn{r: io.LimitReader(r, maxHelloBytes)}
	var hello *tls.ClientHelloInfo
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		hello = h
		return nil, errHelloRead
	}}
	err = tls.Server(rec, cfg).Handshake()
	if hello == nil {
		if err == nil {
			err = errors.New("no ClientHello")
		}
		return "", rec.buf.Bytes(), err
	}
	return hello.ServerName, rec.buf.Bytes(), nil
}

// recordingConn is a net.Conn that reads from r, keeps a copy of what was
// read, and refuses writes.
type recordingConn struct {
	r   io.Reader
	buf bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf.Write(p[:n])
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error)      { return 0, io.ErrClosedPipe }
func (c *recordingConn) Close() error                     { return nil }
func (c *recordingConn) LocalAddr() net.Addr              { return nil }
func (c *recordingConn) RemoteAddr() net.Addr             { return nil }
func (c *recordingConn) SetDeadline(time.Time) error      { return nil }
func (c *recordingConn) SetReadDeadline(time.Time) error  { return nil }
func (c *recordingConn) SetWriteDeadline(time.Time) error { return nil }

// prefixConn is a net.Conn whose first reads return prefix (bytes already
// read from the connection), then read the connection itself.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func newPrefixConn(c net.Conn, prefix []byte) *prefixConn {
	return &prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(prefix), c)}
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite closes the sending half of the underlying connection when it
// supports that (TCP), so half-close passes through.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
