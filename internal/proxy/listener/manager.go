package listener

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Options configures a Manager. Zero fields take the documented defaults.
type Options struct {
	// Logger receives socket and server errors; slog.Default() when nil.
	Logger *slog.Logger
	// ReadHeaderTimeout bounds reading a request's headers (default 10s),
	// which defeats slowloris clients.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long (default 120s).
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request header block (default 64 KiB); net/http
	// answers larger blocks with 431.
	MaxHeaderBytes int
	// DrainTimeout bounds how long requests in flight on a removed bind may
	// take before their connections are closed (default 30s).
	DrainTimeout time.Duration
	// MaxHeaderCount caps the number of header fields of a request (default
	// 100, as Envoy); more get 431. Negative disables the check.
	MaxHeaderCount int
	// MinBodyRate is the lowest average rate, in bytes per second, at which
	// a client must send a request body once BodyRateGrace has passed
	// (default 256); a slower body is cut and the request answered 408.
	// Only time spent waiting for the client counts. Negative disables it.
	MinBodyRate int
	// BodyRateGrace is the time a body may take before MinBodyRate applies
	// (default 10s).
	BodyRateGrace time.Duration
	// KeepDuplicateSlashes turns off merging "//" in request paths. Paths
	// are normalized before routing: "." and ".." segments are resolved
	// (a path climbing above "/" gets 400) and, by default, runs of "/"
	// are merged, so the route matched and the upstream see the same path.
	KeepDuplicateSlashes bool
	// EscapedSlashes is what to do with %2F and %5C in a path: keep
	// (default), reject (400) or unescape.
	EscapedSlashes EscapedSlashes
	// MaxConcurrentStreams caps the HTTP/2 streams a client may open at once
	// on one connection (default 100). net/http runs at most this many
	// handlers per connection, queues a few more, and closes connections
	// that reset streams faster than handlers finish (HTTP/2 rapid reset).
	MaxConcurrentStreams int
	// ConnState, when set, is told of every downstream connection state
	// change with the bind's name (for connection metrics). It must be
	// cheap and safe for concurrent use. Connections of TLS and TCP binds
	// report StateNew and StateClosed only.
	ConnState func(bind string, state http.ConnState)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.MaxHeaderCount == 0 {
		o.MaxHeaderCount = 100
	}
	if o.MinBodyRate == 0 {
		o.MinBodyRate = 256
	}
	if o.BodyRateGrace <= 0 {
		o.BodyRateGrace = 10 * time.Second
	}
	if o.EscapedSlashes == "" {
		o.EscapedSlashes = EscapedSlashesKeep
	}
	if o.MaxConcurrentStreams <= 0 {
		o.MaxConcurrentStreams = 100
	}
	return o
}

// Validate reports settings that cannot work, naming the option.
func (o Options) Validate() error {
	switch o.EscapedSlashes {
	case "", EscapedSlashesKeep, EscapedSlashesReject, EscapedSlashesUnescape:
	default:
		return fmt.Errorf("escaped slashes %q: use %s, %s or %s", o.EscapedSlashes,
			EscapedSlashesKeep, EscapedSlashesReject, EscapedSlashesUnescape)
	}
	if o.MaxConcurrentStreams > 1<<20 {
		return fmt.Errorf("max concurrent streams %d: at most %d", o.MaxConcurrentStreams, 1<<20)
	}
	return nil
}

// CertificateFunc picks the certificate for a TLS handshake on the named
// bind, usually by hello.ServerName (which may be empty: return a default
// certificate or an error).
type CertificateFunc func(bind string, hello *tls.ClientHelloInfo) (*tls.Certificate, error)

// ClientAuthFunc returns the CA pool and mode for validating the client
// certificate of a TLS handshake on bind, or a nil pool when the listener
// chosen by the server name does not validate clients.
type ClientAuthFunc func(bind string, hello *tls.ClientHelloInfo) (*x509.CertPool, tls.ClientAuthType)

// SetClientAuth installs frontend client-certificate validation. Call it
// before the first Reconcile.
func (m *Manager) SetClientAuth(fn ClientAuthFunc) { m.clientAuth = fn }

// Manager keeps the open sockets equal to the configured binds. It is safe
// for concurrent use.
type Manager struct {
	opts    Options
	log     *slog.Logger
	handler func(bind *ir.Bind) http.Handler
	certs   CertificateFunc
	// clientAuth, when set, decides client-certificate validation per
	// handshake (SetClientAuth).
	clientAuth ClientAuthFunc

	mu       sync.Mutex
	servers  map[string]*server   // open binds by name
	draining map[*server]struct{} // removed binds still finishing requests
	closed   bool
	drainWG  sync.WaitGroup
	streams  streamSet // TLS and TCP binds (stream.go)
}

// NewManager returns a Manager with no open binds. handler is called once
// per bind when it is opened and returns the handler for requests arriving
// on it (that handler looks up the current config itself). certs serves
// HTTPS binds and may be nil when there are none.
func NewManager(o Options, handler func(bind *ir.Bind) http.Handler, certs CertificateFunc) *Manager {
	o = o.withDefaults()
	return &Manager{
		opts:     o,
		log:      o.Logger,
		handler:  handler,
		certs:    certs,
		servers:  make(map[string]*server),
		draining: make(map[*server]struct{}),
	}
}

// Reconcile makes the open sockets equal to binds. New binds are opened,
// binds no longer listed are closed gracefully, binds whose name, address,
// port and protocol are unchanged are left untouched (same socket, same
// connections), and a bind whose settings changed is reopened. It returns
// one error per bind that could not be opened, keyed by bind name (nil when
// all opened); the other binds are open regardless.
func (m *Manager) Reconcile(binds []*ir.Bind) map[string]error {
	m.mu.Lock()
	defer m.mu.Unlock()
	errs := make(map[string]error)
	want := make(map[string]*ir.Bind, len(binds))
	for _, b := range binds {
		if b == nil {
			continue
		}
		if _, dup := want[b.Name]; dup {
			errs[b.Name] = fmt.Errorf("bind %s: listed twice", b.Name)
			continue
		}
		want[b.Name] = b
	}
	// Close first, so a bind reopened with a new protocol can take its port.
	streams := m.closeStaleStreams(want) // layer-4 binds: stream.go
	for name, s := range m.servers {
		if b, ok := want[name]; ok && sameSocket(&s.bind, b) {
			continue
		}
		delete(m.servers, name)
		m.drain(s)
	}
	for name, b := range want {
		if _, open := m.servers[name]; open {
			continue
		}
		if m.closed {
			errs[name] = fmt.Errorf("bind %s: listener manager is shut down", name)
			continue
		}
		s, err := m.open(b)
		if err != nil {
			m.log.Error("cannot open bind", "bind", name, "error", err)
			errs[name] = err
			continue
		}
		m.servers[name] = s
	}
	m.openStreams(streams, errs)
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func sameSocket(a, b *ir.Bind) bool {
	return a.Protocol == b.Protocol && a.Address == b.Address && a.Port == b.Port
}

// Addr returns the address the named bind listens on (with the real port
// when the bind asked for port 0), or nil when it is not open.
func (m *Manager) Addr(bind string) net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.servers[bind]; s != nil {
		return s.ln.Addr()
	}
	return m.streamAddr(bind)
}

// Shutdown closes every socket and waits for requests in flight, including
// those on binds removed earlier, to finish. When ctx ends first, remaining
// connections are closed and ctx's error is returned. Reconcile opens
// nothing after Shutdown.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	all := make([]*server, 0, len(m.servers)+len(m.draining))
	for name, s := range m.servers {
		all = append(all, s)
		delete(m.servers, name)
	}
	for s := range m.draining {
		all = append(all, s)
	}
	m.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() { s.stop(ctx) })
	}
	m.shutdownStreams(ctx)
	wg.Wait()
	m.drainWG.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("listener shutdown: %w", err)
	}
	return nil
}

// drain closes s's socket now and lets its requests finish in the
// background. Called with m.mu held.
func (m *Manager) drain(s *server) {
	s.closeSocket()
	m.draining[s] = struct{}{}
	m.drainWG.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.DrainTimeout)
		defer cancel()
		s.stop(ctx)
		m.mu.Lock()
		delete(m.draining, s)
		m.mu.Unlock()
		m.log.Info("bind closed", "bind", s.bind.Name)
	})
}

var errNoCertificates = errors.New("no certificate source configured")
