package upstream

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// h1Conn is one keep-alive HTTP/1.1 connection of the fast path. It is used
// by one request at a time, entirely on that request's goroutine: there is
// no read or write loop goroutine per connection.
type h1Conn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	head      respHead // reused for every response on this connection
	idleSince time.Time
	// hasDeadline: a deadline is set on nc (skipping the call to clear
	// one that is not there saves a timer update per request).
	hasDeadline bool
}

const (
	h1ReadBufferSize  = 8 << 10
	h1WriteBufferSize = 4 << 10
	// idleProbeAfter: a connection idle longer than this is checked for a
	// close by the upstream before it is used (one non-blocking read), since
	// no goroutine watches idle connections.
	idleProbeAfter = time.Second
	// idleConnTimeout closes connections idle this long (as http.Transport's
	// IdleConnTimeout in this package).
	idleConnTimeout = 90 * time.Second
)

// h1Pool holds the idle connections to one endpoint, most recently used
// first. The zero value is an empty open pool.
type h1Pool struct {
	mu     sync.Mutex
	idle   []*h1Conn
	closed bool
}

// get returns an idle connection that still looks usable, or nil. One idle
// longer than idleProbeAfter, or any when probe is set, is first checked
// for a close by the upstream.
func (p *h1Pool) get(now time.Time, probe bool) *h1Conn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := now.Sub(c.idleSince)
		if !probe && idle < idleProbeAfter || idle < idleConnTimeout && c.alive() {
			return c
		}
		_ = c.nc.Close()
	}
}

// put returns c to the pool, or closes it when the pool is full or closed.
func (p *h1Pool) put(c *h1Conn, max int, now time.Time) {
	c.idleSince = now
	p.mu.Lock()
	if p.closed || len(p.idle) >= max {
		p.mu.Unlock()
		_ = c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// closeIdle closes the idle connections; with shut, connections returned
// later are closed too (the endpoint left the config).
func (p *h1Pool) closeIdle(shut bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if shut {
		p.closed = true
	}
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
}

// alive reports whether an idle connection is still open: nothing may be
// readable on it (neither data nor the upstream's FIN) when no request is
// outstanding.
func (c *h1Conn) alive() bool {
	return c.br.Buffered() == 0 && nothingToRead(c.nc)
}

// aLongTimeAgo is a deadline in the past: I/O with it fails at once.
var aLongTimeAgo = time.Unix(1, 0)

// dialH1 opens a new connection to addr, bounded by deadline (zero: the
// registry's dial timeout only) and ctx.
func (r *Registry) dialH1(ctx context.Context, addr string, deadline time.Time) (*h1Conn, error) {
	d := net.Dialer{Timeout: r.opts.DialTimeout, Deadline: deadline, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &h1Conn{
		nc: nc,
		br: bufio.NewReaderSize(nc, h1ReadBufferSize),
		bw: bufio.NewWriterSize(nc, h1WriteBufferSize),
	}, nil
}
