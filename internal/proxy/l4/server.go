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
	var err error
	switch bind.Protocol {
	case ir.ProtocolTCP:
		err = s.serveTCP(ctx, bind, c)
	case ir.ProtocolTLS:
		err = s.serveTLS(ctx, bind, c)
	default:
		err = fmt.Errorf("protocol %s is not a layer-4 protocol", bind.Protocol)
	}
	if err != nil {
		s.log.Debug("connection closed", "bind", bind.Name, "remote", c.RemoteAddr().String(), "error", err)
	}
}

func (s *Server) serveTCP(ctx context.Context, bind *ir.Bind, c net.Conn) error {
	t := s.table.Load()
	_, r := t.Lookup(bind.Name, "")
	if r == nil {
		return errors.New("no TCPRoute attached to this bind")
	}
	up, err := s.dial(ctx, t, r)
	if err != nil {
		return err
	}
	return splice(ctx, c, up)
}

func (s *Server) serveTLS(ctx context.Context, bind *ir.Bind, c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(s.opts.HelloTimeout))
	name, raw, err := readClientHello(c)
	if err != nil {
		return fmt.Errorf("reading ClientHello: %w", err)
	}
	t := s.table.Load()
	l, r := t.Lookup(bind.Name, name)
	if l == nil || r == nil {
		return fmt.Errorf("no TLSRoute for server name %q", name)
	}
	client := net.Conn(newPrefixConn(c, raw))
	if l.TLSMode == ir.TLSTerminate {
		tc := tls.Server(client, s.terminateConfig(bind.Name))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		client = tc
	}
	_ = c.SetReadDeadline(time.Time{})
	up, err := s.dial(ctx, t, r)
	if err != nil {
		return err
	}
	return splice(ctx, client, up)
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
// endpoints, trying others when a connect fails.
func (s *Server) dial(ctx context.Context, t *Table, r *ir.L4Route) (net.Conn, error) {
	ref := pickShare(r.Backends)
	if ref == nil {
		return nil, fmt.Errorf("route %s: no backend with weight", r.Name)
	}
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
	var lastErr error
	for i, ep := range s.pick.order(eps, s.opts.DialAttempts) {
		addr := net.JoinHostPort(ep.Address, strconv.Itoa(int(ep.Port)))
		dctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
		up, err := s.opts.Dial(dctx, "tcp", addr)
		cancel()
		if err == nil {
			return up, nil
		}
		lastErr = fmt.Errorf("attempt %d: dial %s: %w", i+1, addr, err)
	}
	return nil, fmt.Errorf("route %s: %w", r.Name, lastErr)
}

// closeWriter is a connection that can close its sending half.
type closeWriter interface{ CloseWrite() error }

// splice copies both ways until both directions have finished. When one
// side finishes sending, the other side's sending half is closed (TCP
// half-close), so request/response protocols that signal the end of input
// by closing keep working. An error in either direction, or ctx ending,
// closes both connections.
func splice(ctx context.Context, client, up net.Conn) error {
	defer up.Close()
	stop := context.AfterFunc(ctx, func() {
		_ = client.Close()
		_ = up.Close()
	})
	defer stop()
	errc := make(chan error, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
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
	go pipe(up, client)
	go pipe(client, up)
	err1, err2 := <-errc, <-errc
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(err1, err2)
}
