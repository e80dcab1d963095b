package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	"gatehouse.dev/gatehouse/internal/ir"
)

// server is one open bind.
type server struct {
	bind    ir.Bind // a copy: the caller's value may change
	ln      net.Listener
	srv     *http.Server
	done    chan struct{} // closed when Serve has returned
	closing atomic.Bool
}

// open binds b's socket and starts serving it.
func (m *Manager) open(b *ir.Bind) (*server, error) {
	s := &server{bind: *b, done: make(chan struct{})}
	srv := &http.Server{
		ReadHeaderTimeout: m.opts.ReadHeaderTimeout,
		IdleTimeout:       m.opts.IdleTimeout,
		MaxHeaderBytes:    m.opts.MaxHeaderBytes,
		// net/http reports bad clients (TLS handshake errors, broken
		// connections) here; they are the client's problem, hence Debug.
		ErrorLog:  slog.NewLogLogger(m.log.With("bind", b.Name).Handler(), slog.LevelDebug),
		Protocols: new(http.Protocols),
		// HTTP/2 limits (h2 and h2c). net/http already bounds CONTINUATION
		// floods (a header block over MaxHeaderBytes closes the connection)
		// and rapid resets (handlers per connection are capped at
		// MaxConcurrentStreams; too many queued streams close it with
		// ENHANCE_YOUR_CALM); the header list limit is MaxHeaderBytes.
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: m.opts.MaxConcurrentStreams},
	}
	if cs := m.opts.ConnState; cs != nil {
		name := b.Name
		srv.ConnState = func(_ net.Conn, st http.ConnState) { cs(name, st) }
	}
	srv.Protocols.SetHTTP1(true)
	switch b.Protocol {
	case ir.ProtocolHTTP:
		srv.Protocols.SetUnencryptedHTTP2(true)
	case ir.ProtocolHTTPS:
		if m.certs == nil {
			return nil, fmt.Errorf("bind %s: protocol HTTPS: %w", b.Name, errNoCertificates)
		}
		srv.Protocols.SetHTTP2(true)
		srv.TLSConfig = m.tlsConfig(b.Name)
	default:
		return nil, fmt.Errorf("bind %s: protocol %q is not supported; use %s or %s",
			b.Name, b.Protocol, ir.ProtocolHTTP, ir.ProtocolHTTPS)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(b.Address, strconv.Itoa(int(b.Port))))
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", b.Name, err)
	}
	s.ln = ln
	h := m.handler(&s.bind)
	if h == nil {
		h = http.NotFoundHandler()
	}
	srv.Handler = m.guard(b.Name, h)
	s.srv = srv
	go s.serve(m.log)
	m.log.Info("bind opened", "bind", b.Name, "protocol", b.Protocol, "addr", ln.Addr().String())
	return s, nil
}

func (s *server) serve(log *slog.Logger) {
	defer close(s.done)
	var err error
	if s.bind.Protocol == ir.ProtocolHTTPS {
		err = s.srv.ServeTLS(s.ln, "", "")
	} else {
		err = s.srv.Serve(s.ln)
	}
	if !errors.Is(err, http.ErrServerClosed) && !s.closing.Load() {
		log.Error("bind stopped serving", "bind", s.bind.Name, "error", err)
	}
}

// closeSocket stops accepting connections at once, freeing the port.
func (s *server) closeSocket() {
	s.closing.Store(true)
	_ = s.ln.Close()
}

// stop shuts the server down gracefully, closing what is left when ctx
// ends, and waits for Serve to return.
func (s *server) stop(ctx context.Context) {
	s.closing.Store(true)
	if err := s.srv.Shutdown(ctx); err != nil && ctx.Err() != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// modernCipherSuites are the TLS 1.2 suites offered: forward secret AEADs
// only. (TLS 1.3 suites are not configurable and are all modern.)
var modernCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsConfig returns the TLS settings of an HTTPS bind.
func (m *Manager) tlsConfig(bind string) *tls.Config {
	cfg := m.baseTLSConfig(bind)
	if m.clientAuth != nil {
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			pool, mode := m.clientAuth(bind, hello)
			if pool == nil {
				return nil, nil // no client validation for this server name
			}
			c := cfg.Clone()
			c.GetConfigForClient = nil
			c.ClientCAs, c.ClientAuth = pool, mode
			return c, nil
		}
	}
	return cfg
}

func (m *Manager) baseTLSConfig(bind string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: modernCipherSuites,
		NextProtos:   []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert, err := m.certs(bind, hello)
			if err == nil && cert == nil {
				err = fmt.Errorf("no certificate for server name %q", hello.ServerName)
			}
			if err != nil {
				m.log.Debug("TLS handshake without certificate", "bind", bind,
					"serverName", hello.ServerName, "remote", hello.Conn.RemoteAddr().String(), "error", err)
				return nil, err
			}
			return cert, nil
		},
	}
}
