package l4

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Options configures a Server. Zero fields take the documented defaults.
type Options struct {
	Logger *slog.Logger
	// HelloTimeout bounds reading the ClientHello (passthrough) or the whole
	// handshake (terminate) of a TLS connection (default 10s).
	HelloTimeout time.Duration
	// DialTimeout bounds connecting to one backend endpoint (default 5s).
	DialTimeout time.Duration
	// DialAttempts is how many endpoints a connection tries before giving up
	// (default 3).
	DialAttempts int
	// Certificate picks the certificate for a terminated TLS connection on
	// bind (the proxy's SNI-based selection).
	Certificate func(bind string, hello *tls.ClientHelloInfo) (*tls.Certificate, error)
	// Dial opens backend connections; net.Dialer by default (tests replace
	// it).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Observe, when set, is called once per connection after it ended
	// (metrics and access logs). info is only valid during the call.
	Observe func(info *ConnInfo)
}

// Outcomes of a connection (ConnInfo.Outcome).
const (
	OutcomeOK           = "ok"            // both directions finished
	OutcomeNoRoute      = "no_route"      // no route (or server name) matched
	OutcomeTLSError     = "tls_error"     // ClientHello unreadable or handshake failed
	OutcomeNoBackend    = "no_backend"    // the route's backend is invalid or has no endpoints
	OutcomeConnectError = "connect_error" // every endpoint tried refused or timed out
	OutcomeAborted      = "aborted"       // a side failed mid-stream, or the bind was drained
)

// ConnInfo describes one finished layer-4 connection.
type ConnInfo struct {
	Bind     string
	Protocol ir.Protocol
	// ServerName is the SNI of a TLS connection.
	ServerName string
	// Remote is the client's address.
	Remote string
	// Gateway and Listener name the listener that took the connection,
	// Route the L4Route and Backend the backend picked ("" when none).
	Gateway, Listener, Route, Backend string
	Start                             time.Time
	Duration                          time.Duration
	// BytesReceived were read from the client, BytesSent written to it.
	BytesReceived, BytesSent int64
	Outcome                  string
	// Err is why the connection ended early (nil for OutcomeOK).
	Err error
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HelloTimeout <= 0 {
		o.HelloTimeout = 10 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.DialAttempts <= 0 {
		o.DialAttempts = 3
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	return o
}

// Server routes connections of L4 binds by the current Table.
type Server struct {
	opts  Options
	log   *slog.Logger
	table atomic.Pointer[Table]
	pick  picker
}

// NewServer returns a server with an empty table.
func NewServer(o Options) *Server {
	o = o.withDefaults()
	s := &Server{opts: o, log: o.Logger}
	s.table.Store(Build(nil, nil, nil))
	return s
}

// Store swaps in a new table. Connections already established keep their
// backend; new ones use t.
func (s *Server) Store(t *Table) { s.table.Store(t) }

// Table returns the current table.
func (s *Server) Table() *Table { return s.table.Load() }

// ServeConn serves one client connection accepted on bind until either side
// closes it or ctx ends (the bind was removed or the proxy shut down and
// the drain deadline passed). The caller closes c afterwards.
func (s *Server) ServeConn(ctx context.Context, bind *ir.Bind, c net.Conn) {
	info := ConnInfo{Bind: bind.Name, Protocol: bind.Protocol, Remote: c.RemoteAddr().String(), Start: time.Now()}
	switch bind.Protocol {
	case ir.ProtocolTCP:
		s.serveTCP(ctx, bind, c, &info)
	case ir.ProtocolTLS:
		s.serveTLS(ctx, bind, c, &info)
	default:
		info.Outcome, info.Err = OutcomeNoRoute, fmt.Errorf("protocol %s is not a layer-4 protocol", bind.Protocol)
	}
	info.Duration = time.Since(info.Start)
	if info.Err != nil {
		s.log.Debug("connection closed", "bind", bind.Name, "remote", info.Remote, "outcome", info.Outcome, "error", info.Err)
	}
	if s.opts.Observe != nil {
		s.opts.Observe(&info)
	}
}

func (s *Server) serveTCP(ctx context.Context, bind *ir.Bind, c net.Conn, info *ConnInfo) {
	t := s.table.Load()
	l, r := t.Lookup(bind.Name, "")
	if r == nil {
		info.Outcome, info.Err = OutcomeNoRoute, errors.New("no TCPRoute attached to this bind")
		return
	}
	info.Gateway, info.Listener, info.Route = l.Gateway, l.Name, r.Name
	s.forward(ctx, t, r, c, info)
}

func (s *Server) serveTLS(ctx context.Context, bind *ir.Bind, c net.Conn, info *ConnInfo) {
	_ = c.SetReadDeadline(time.Now().Add(s.opts.HelloTimeout))
	name, raw, err := readClientHello(c)
	if err != nil {
		info.Outcome, info.Err = OutcomeTLSError, fmt.Errorf("reading ClientHello: %w", err)
		return
	}
	info.ServerName = name
	t := s.table.Load()
	l, r := t.Lookup(bind.Name, name)
	if l == nil || r == nil {
		info.Outcome, info.Err = OutcomeNoRoute, fmt.Errorf("no TLSRoute for server name %q", name)
		return
	}
	info.Gateway, info.Listener, info.Route = l.Gateway, l.Name, r.Name
	client := net.Conn(newPrefixConn(c, raw))
	if l.TLSMode == ir.TLSTerminate {
		tc := tls.Server(client, s.terminateConfig(bind.Name))
		if err := tc.HandshakeContext(ctx); err != nil {
			info.Outcome, info.Err = OutcomeTLSError, fmt.Errorf("TLS handshake: %w", err)
			return
		}
		client = tc
	}
	_ = c.SetReadDeadline(time.Time{})
	s.forward(ctx, t, r, client, info)
}

// forward connects to r's backend and splices client to it.
func (s *Server) forward(ctx context.Context, t *Table, r *ir.L4Route, client net.Conn, info *ConnInfo) {
	up, err := s.dial(ctx, t, r, info)
	if err != nil {
		info.Err = err
		return
	}
	info.BytesReceived, info.BytesSent, info.Err = splice(ctx, client, up)
	info.Outcome = OutcomeOK
	if info.Err != nil {
		info.Outcome = OutcomeAborted
	}
}

func (s *Server) terminateConfig(bind string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if s.opts.Certificate == nil {
				return nil, errors.New("no certificate source")
			}
			return s.opts.Certificate(bind, hello)
		},
	}
}

// dial picks a weighted backend share of r and connects to one of its
// endpoints, trying others when a connect fails. It sets info's Backend, and
// its Outcome when it fails.
func (s *Server) dial(ctx context.Context, t *Table, r *ir.L4Route, info *ConnInfo) (net.Conn, error) {
	info.Outcome = OutcomeNoBackend
	ref := pickShare(r.Backends)
	if ref == nil {
		return nil, fmt.Errorf("route %s: no backend with weight", r.Name)
	}
	info.Backend = ref.Backend
	if ref.Invalid != "" {
		return nil, fmt.Errorf("route %s: %s", r.Name, ref.Invalid)
	}
	b := t.Backend(ref.Backend)
	if b == nil {
		return nil, fmt.Errorf("route %s: backend %s is not known", r.Name, ref.Backend)
	}
	eps := endpoints(b, ref.Port)
	if len(eps) == 0 {
		return nil, fmt.Errorf("route %s: backend %s port %d has no endpoints", r.Name, ref.Backend, ref.Port)
	}
	info.Outcome = OutcomeConnectError
	var lastErr error
	for i, ep := range s.pick.order(eps, s.opts.DialAttempts) {
		addr := net.JoinHostPort(ep.Address, strconv.Itoa(int(ep.Port)))
		dctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
		up, err := s.opts.Dial(dctx, "tcp", addr)
		cancel()
		if err == nil {
			info.Outcome = ""
			return up, nil
		}
		lastErr = fmt.Errorf("attempt %d: dial %s: %w", i+1, addr, err)
	}
	return nil, fmt.Errorf("route %s: %w", r.Name, lastErr)
}

// closeWriter is a connection that can close its sending half.
type closeWriter interface{ CloseWrite() error }

// splice copies both ways until both directions have finished, and
// returns the bytes read from and written to the client. When one side
// finishes sending, the other side's sending half is closed (TCP
// half-close), so request/response protocols that signal the end of input
// by closing keep working. An error in either direction, or ctx ending,
// closes both connections.
func splice(ctx context.Context, client, up net.Conn) (received, sent int64, err error) {
	defer up.Close()
	stop := context.AfterFunc(ctx, func() {
		_ = client.Close()
		_ = up.Close()
	})
	defer stop()
	errc := make(chan error, 2)
	pipe := func(dst, src net.Conn, n *int64) {
		var err error
		*n, err = io.Copy(dst, src)
		if err == nil {
			if cw, ok := dst.(closeWriter); ok {
				err = cw.CloseWrite()
			} else {
				err = dst.Close()
			}
		}
		if err != nil {
			_ = client.Close()
			_ = up.Close()
		}
		errc <- err
	}
	go pipe(up, client, &received)
	go pipe(client, up, &sent)
	err1, err2 := <-errc, <-errc // both pipes have stored their counts
	if ctx.Err() != nil {
		return received, sent, ctx.Err()
	}
	return received, sent, errors.Join(err1, err2)
}
