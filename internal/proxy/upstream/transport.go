package upstream

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// transportKind is the wire protocol spoken to an endpoint.
type transportKind int

const (
	kindHTTP1 transportKind = iota // HTTP/1.1, also carries WebSocket upgrades
	kindH2C                        // HTTP/2: prior knowledge in clear, ALPN h2 over TLS
)

// newTransport returns a pooled transport of the given kind; tlsCfg is nil
// for cleartext.
func (r *Registry) newTransport(tlsCfg *tls.Config, kind transportKind) *http.Transport {
	d := &net.Dialer{Timeout: r.opts.DialTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 nil, // never honour HTTP_PROXY for upstream traffic
		DialContext:           d.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   r.opts.MaxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// The proxy passes bodies through as they are; transparent
		// decompression would change them.
		DisableCompression: true,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 30 * time.Second, // find dead h2 connections
			PingTimeout:     15 * time.Second,
		},
	}
	t.Protocols = new(http.Protocols)
	switch {
	case kind == kindHTTP1:
		// HTTP/1.1 only, also over TLS: upgrades (WebSocket) need it.
		t.Protocols.SetHTTP1(true)
	case tlsCfg == nil:
		t.Protocols.SetUnencryptedHTTP2(true)
	default:
		t.Protocols.SetHTTP2(true)
	}
	return t
}

// newProxy returns the ReverseProxy used for every request over transport t.
// The endpoint is chosen before ServeHTTP and found again in rewrite through
// the request context, so one proxy serves all backends of a kind.
func (r *Registry) newProxy(t *http.Transport) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      t,
		FlushInterval:  -1, // stream: SSE and gRPC must not be buffered
		BufferPool:     sharedBufferPool,
		ModifyResponse: r.modifyResponse,
		ErrorHandler:   r.errorHandler,
		ErrorLog:       slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
	}
}

// tlsProxies are the TLS-originating proxies of one backend, built for one
// TLS configuration and reused across updates while it stays the same.
type tlsProxies struct {
	cfg        ir.UpstreamTLS
	h1, h2     *httputil.ReverseProxy
	transports [2]*http.Transport
}

func (r *Registry) newTLSProxies(cfg ir.UpstreamTLS) (*tlsProxies, error) {
	tc, err := newUpstreamTLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	p := &tlsProxies{cfg: cfg}
	p.transports[0] = r.newTransport(tc, kindHTTP1)
	p.transports[1] = r.newTransport(tc.Clone(), kindH2C)
	p.h1 = r.newProxy(p.transports[0])
	p.h2 = r.newProxy(p.transports[1])
	return p, nil
}

func (p *tlsProxies) proxy(k transportKind) *httputil.ReverseProxy {
	if k == kindH2C {
		return p.h2
	}
	return p.h1
}

func (p *tlsProxies) sameConfig(c *ir.UpstreamTLS) bool {
	return sameUpstreamTLS(&p.cfg, c)
}

func (p *tlsProxies) closeIdle() {
	for _, t := range p.transports {
		t.CloseIdleConnections()
	}
}

// bufferPool recycles the copy buffers of ReverseProxy (32 KiB each, which
// would otherwise be allocated per request).
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

var sharedBufferPool = &bufferPool{p: sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}}

// Get implements httputil.BufferPool.
func (bp *bufferPool) Get() []byte { return *(bp.p.Get().(*[]byte)) }

// Put implements httputil.BufferPool.
func (bp *bufferPool) Put(b []byte) {
	if cap(b) != copyBufferSize {
		return
	}
	bp.p.Put(&b)
}
