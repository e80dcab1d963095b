package upstream

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// maxEjection caps the doubling ejection window.
const maxEjection = 5 * time.Minute

// endpoint is the shared, mutable state of one address:port of a backend.
// It is kept across config updates for as long as the address remains.
type endpoint struct {
	addr string // host:port, ready for URL.Host

	outstanding  atomic.Int64 // requests in flight
	failures     atomic.Int32 // consecutive failures since the last success
	ejections    atomic.Int32 // consecutive ejections, for the doubling window
	ejectedUntil atomic.Int64 // unix nanoseconds; 0 when never ejected

	conns h1Pool // idle fast-path connections
}

// ejected reports whether the endpoint is ejected at now.
func (e *endpoint) ejected(now int64) bool {
	return e.ejectedUntil.Load() > now
}

// recordSuccess clears the failure streak and the ejection history.
func (e *endpoint) recordSuccess() {
	// Loads first: the common case writes nothing and keeps the cache
	// line shared between cores.
	if e.failures.Load() != 0 {
		e.failures.Store(0)
	}
	if e.ejections.Load() != 0 {
		e.ejections.Store(0)
	}
}

// recordFailure counts one failure. When the streak reaches after, the
// endpoint is ejected for base doubled per previous consecutive ejection
// (capped at maxEjection) and the ejection duration is returned; otherwise 0.
func (e *endpoint) recordFailure(now time.Time, after int, base time.Duration) time.Duration {
	f := e.failures.Add(1)
	if int(f) < after || !e.failures.CompareAndSwap(f, 0) {
		// Below the threshold, or another goroutine ejected concurrently.
		return 0
	}
	n := e.ejections.Add(1) - 1
	d := base
	for i := int32(0); i < n && d < maxEjection; i++ {
		d *= 2
	}
	d = min(d, maxEjection)
	e.ejectedUntil.Store(now.Add(d).UnixNano())
	return d
}

// pickEndpoint chooses an endpoint by power of two choices on outstanding
// requests among the candidates, avoiding ejected ones. When every candidate
// is ejected it still picks one (panic mode, see the package doc). It returns
// nil only for an empty slice.
func pickEndpoint(c []*endpoint, now int64) *endpoint {
	switch len(c) {
	case 0:
		return nil
	case 1:
		return c[0]
	}
	i := rand.IntN(len(c))
	j := rand.IntN(len(c) - 1)
	if j >= i {
		j++
	}
	a, b := c[i], c[j]
	ae, be := a.ejected(now), b.ejected(now)
	switch {
	case !ae && !be:
		return lessLoaded(a, b)
	case !ae:
		return a
	case !be:
		return b
	}
	// Both draws were ejected: look for any healthy endpoint before
	// falling back to panic mode. This scan only happens while endpoints
	// are ejected, so its cost is off the steady-state path.
	var best *endpoint
	start := rand.IntN(len(c))
	for k := range c {
		e := c[(start+k)%len(c)]
		if e.ejected(now) {
			continue
		}
		if best == nil || e.outstanding.Load() < best.outstanding.Load() {
			best = e
		}
	}
	if best != nil {
		return best
	}
	return lessLoaded(a, b)
}

// lessLoaded returns the endpoint with fewer requests in flight, a on a tie.
func lessLoaded(a, b *endpoint) *endpoint {
	if b.outstanding.Load() < a.outstanding.Load() {
		return b
	}
	return a
}
