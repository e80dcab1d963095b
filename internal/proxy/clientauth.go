package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"sync"
)

// clientPools caches CA pools by their PEM content: listeners are replaced
// on every update, their CA bundles rarely change.
type clientPools struct {
	mu    sync.Mutex
	pools map[string]*x509.CertPool
}

func (c *clientPools) get(pem []byte) *x509.CertPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pools[string(pem)]; ok {
		return p
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		p = nil
	}
	if c.pools == nil || len(c.pools) > 256 {
		c.pools = map[string]*x509.CertPool{}
	}
	c.pools[string(pem)] = p
	return p
}

// clientAuthFor applies the frontend validation of the listener that serves
// the handshake's server name. A listener whose CA bundle cannot be parsed
// requires a certificate no client can present (fails closed).
func (p *Proxy) clientAuthFor(bind string, hello *tls.ClientHelloInfo) (*x509.CertPool, tls.ClientAuthType) {
	l := p.table.Load().Listener(bind, strings.ToLower(hello.ServerName))
	if l == nil || l.ClientValidation == nil {
		return nil, tls.NoClientCert
	}
	pool := p.clientPools.get(l.ClientValidation.CACertPEM)
	if l.ClientValidation.InsecureFallback {
		return orEmpty(pool), tls.RequestClientCert
	}
	return orEmpty(pool), tls.RequireAndVerifyClientCert
}

func orEmpty(p *x509.CertPool) *x509.CertPool {
	if p == nil {
		return x509.NewCertPool()
	}
	return p
}
