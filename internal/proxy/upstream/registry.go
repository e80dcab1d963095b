package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Options configures a Registry. Zero fields take the documented defaults.
type Options struct {
	// Logger receives forwarding errors and ejections; slog.Default() when nil.
	Logger *slog.Logger
	// DialTimeout bounds a TCP connect to an endpoint (default 5s).
	DialTimeout time.Duration
	// MaxIdlePerHost is the number of idle keep-alive connections kept per
	// endpoint (default 256).
	MaxIdlePerHost int
	// EjectAfter is the number of consecutive failures that eject an
	// endpoint (default 3).
	EjectAfter int
	// EjectFor is the first ejection window; it doubles on every repeated
	// ejection, up to five minutes (default 5s).
	EjectFor time.Duration
	// ReverseProxyOnly sends every request through httputil.ReverseProxy,
	// turning off the HTTP/1.1 fast path (for comparisons, and as a way
	// out should the fast path misbehave with some upstream).
	ReverseProxyOnly bool
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.MaxIdlePerHost <= 0 {
		o.MaxIdlePerHost = 256
	}
	if o.EjectAfter <= 0 {
		o.EjectAfter = 3
	}
	if o.EjectFor <= 0 {
		o.EjectFor = 5 * time.Second
	}
	return o
}

// maxMirrorsInFlight bounds background mirror requests; beyond it mirrors are
// dropped so a slow mirror backend cannot pile up goroutines.
const maxMirrorsInFlight = 1024

// Registry holds the compiled backend pools. It is safe for concurrent use:
// requests are forwarded while Update and Remove run.
type Registry struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time // replaced in tests

	mu       sync.Mutex // serialises Update and Remove
	backends sync.Map   // name -> *backend; read on every request

	http1 *httputil.ReverseProxy // shared HTTP/1.1 (and WebSocket) proxy
	h2c   *httputil.ReverseProxy // shared cleartext HTTP/2 proxy

	mirrorSlots chan struct{}
}

// NewRegistry returns an empty Registry.
func NewRegistry(o Options) *Registry {
	o = o.withDefaults()
	r := &Registry{
		opts:        o,
		log:         o.Logger,
		now:         time.Now,
		mirrorSlots: make(chan struct{}, maxMirrorsInFlight),
	}
	r.http1 = r.newProxy(r.newTransport(nil, kindHTTP1))
	r.h2c = r.newProxy(r.newTransport(nil, kindH2C))
	return r
}

// backend is the compiled, immutable view of one ir.Backend. The endpoint
// records it points to are shared with the versions before and after it.
type backend struct {
	name      string
	ports     []*portPool
	endpoints map[string]*endpoint // address:port -> state
	tls       *tlsProxies          // nil when no port originates TLS
}

// portPool is the set of endpoints behind one backend port.
type portPool struct {
	port     int32
	scheme   string // "http" or "https"
	proxy    *httputil.ReverseProxy
	fast     bool // cleartext HTTP/1.1: eligible requests take the fast path
	ready    []*endpoint
	notReady []*endpoint
}

// candidates returns the endpoints eligible for traffic: the ready ones, or
// the not-ready ones when none is ready.
func (p *portPool) candidates() []*endpoint {
	if len(p.ready) > 0 {
		return p.ready
	}
	return p.notReady
}

// port returns the pool for port, or the first port when port is 0.
func (b *backend) port(port int32) *portPool {
	if port == 0 && len(b.ports) > 0 {
		return b.ports[0]
	}
	for _, p := range b.ports {
		if p.port == port {
			return p
		}
	}
	return nil
}

// Update adds or replaces a backend. State of endpoints (address:port) that
// remain is kept. On invalid input it returns an error naming the backend and
// the field, and the previous version stays in force.
func (r *Registry) Update(b *ir.Backend) error {
	if b == nil {
		return errors.New("backend: nil")
	}
	if b.Name == "" {
		return errors.New("backend: name is empty")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.lookup(b.Name)
	nb, err := r.compile(b, old)
	if err != nil {
		return fmt.Errorf("backend %s: %w", b.Name, err)
	}
	r.backends.Store(b.Name, nb)
	if old != nil {
		for addr, ep := range old.endpoints {
			if nb.endpoints[addr] != ep {
				ep.conns.closeIdle(true) // the endpoint left
			}
		}
	}
	if old != nil && old.tls != nil && old.tls != nb.tls {
		// In-flight requests keep their connections; idle ones of the
		// old TLS config are closed so they are not reused.
		old.tls.closeIdle()
	}
	return nil
}

// Remove deletes a backend. Requests already forwarded to it complete.
func (r *Registry) Remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.lookup(name)
	if old == nil {
		return
	}
	r.backends.Delete(name)
	for _, ep := range old.endpoints {
		ep.conns.closeIdle(true)
	}
	if old.tls != nil {
		old.tls.closeIdle()
	}
}

// Has reports whether a backend of that name is present.
func (r *Registry) Has(name string) bool {
	return r.lookup(name) != nil
}

// CloseIdleConnections closes the idle keep-alive connections of every
// transport (on shutdown, and in tests to leave no goroutines behind).
func (r *Registry) CloseIdleConnections() {
	for _, p := range []*httputil.ReverseProxy{r.http1, r.h2c} {
		p.Transport.(*http.Transport).CloseIdleConnections()
	}
	r.backends.Range(func(_, v any) bool {
		b := v.(*backend)
		if b.tls != nil {
			b.tls.closeIdle()
		}
		for _, ep := range b.endpoints {
			ep.conns.closeIdle(false)
		}
		return true
	})
}

func (r *Registry) lookup(name string) *backend {
	v, ok := r.backends.Load(name)
	if !ok {
		return nil
	}
	return v.(*backend)
}

// compile validates b and builds its pools, reusing endpoint state and the
// TLS transports of old where they still apply.
func (r *Registry) compile(b *ir.Backend, old *backend) (*backend, error) {
	tlsProx, err := r.tlsFor(b, old)
	if err != nil {
		return nil, err
	}
	nb := &backend{name: b.Name, endpoints: make(map[string]*endpoint), tls: tlsProx}
	seen := make(map[int32]bool, len(b.Ports))
	for i, bp := range b.Ports {
		// Port 0 is allowed: it holds the endpoints for references that name
		// no port (a StaticBackend's whole endpoint list).
		if bp.Port < 0 || bp.Port > 65535 {
			return nil, fmt.Errorf("ports[%d].port %d is out of range 0-65535", i, bp.Port)
		}
		if seen[bp.Port] {
			return nil, fmt.Errorf("ports[%d].port %d is listed twice", i, bp.Port)
		}
		seen[bp.Port] = true
		pool, err := r.compilePort(nb, b, i, old)
		if err != nil {
			return nil, err
		}
		nb.ports = append(nb.ports, pool)
	}
	return nb, nil
}

// compilePort builds the pool of b.Ports[i] into nb.
func (r *Registry) compilePort(nb *backend, b *ir.Backend, i int, old *backend) (*portPool, error) {
	bp := &b.Ports[i]
	kind, tlsOn, err := portKind(bp.Protocol, b.TLS != nil)
	if err != nil {
		return nil, fmt.Errorf("ports[%d].protocol: %w", i, err)
	}
	pool := &portPool{port: bp.Port, scheme: "http"}
	switch {
	case tlsOn:
		pool.scheme = "https"
		pool.proxy = nb.tls.proxy(kind)
	case kind == kindH2C:
		pool.proxy = r.h2c
	default:
		pool.proxy, pool.fast = r.http1, true
	}
	for j, ep := range bp.Endpoints {
		if ep.Address == "" {
			return nil, fmt.Errorf("ports[%d].endpoints[%d].address is empty", i, j)
		}
		if ep.Port < 1 || ep.Port > 65535 {
			return nil, fmt.Errorf("ports[%d].endpoints[%d].port %d is out of range 1-65535", i, j, ep.Port)
		}
		addr := net.JoinHostPort(ep.Address, strconv.Itoa(int(ep.Port)))
		st := nb.endpoints[addr]
		if st == nil && old != nil {
			st = old.endpoints[addr]
		}
		if st == nil {
			st = &endpoint{addr: addr}
		}
		nb.endpoints[addr] = st
		if ep.Ready {
			pool.ready = append(pool.ready, st)
		} else {
			pool.notReady = append(pool.notReady, st)
		}
	}
	return pool, nil
}

// portKind maps an application protocol to the transport kind and whether
// TLS is originated.
func portKind(p ir.AppProtocol, backendTLS bool) (transportKind, bool, error) {
	switch p {
	case "", ir.AppHTTP1, ir.AppWS:
		return kindHTTP1, backendTLS, nil
	case ir.AppH2C:
		return kindH2C, backendTLS, nil
	case ir.AppWSS:
		return kindHTTP1, true, nil
	}
	return 0, false, fmt.Errorf("%q is not supported; use %q, %q, %q or %q",
		p, ir.AppHTTP1, ir.AppH2C, ir.AppWS, ir.AppWSS)
}

// tlsFor returns the TLS proxies b needs: the old ones when the TLS settings
// did not change, new ones when they did, nil when no port originates TLS.
func (r *Registry) tlsFor(b *ir.Backend, old *backend) (*tlsProxies, error) {
	need := b.TLS != nil
	for _, p := range b.Ports {
		need = need || p.Protocol == ir.AppWSS
	}
	if !need {
		return nil, nil
	}
	cfg := ir.UpstreamTLS{}
	if b.TLS != nil {
		cfg = *b.TLS
	}
	if old != nil && old.tls != nil && old.tls.sameConfig(&cfg) {
		return old.tls, nil
	}
	return r.newTLSProxies(cfg)
}
