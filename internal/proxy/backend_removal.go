package proxy

import "time"

// backendRemovalGrace is how long a removed backend stays in the upstream
// registry after the table that stopped routing to it was swapped in. A
// request that matched a route on the previous table looks its backend up
// by name a moment later; without the grace it would find nothing and get
// a 500 although the route was valid when it matched.
const backendRemovalGrace = 2 * time.Second

// bumpBackendEpoch records an upsert or removal of a backend; p.mu is held.
func (p *Proxy) bumpBackendEpoch(name string) uint64 {
	if p.backendEpoch == nil {
		p.backendEpoch = map[string]uint64{}
	}
	p.backendEpoch[name]++
	return p.backendEpoch[name]
}

// removeBackendsLater removes the named backends from the upstream registry
// after backendRemovalGrace, unless one was added again meanwhile; p.mu is
// held.
func (p *Proxy) removeBackendsLater(names []string) {
	for _, name := range names {
		epoch := p.bumpBackendEpoch(name)
		time.AfterFunc(backendRemovalGrace, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.backendEpoch[name] == epoch {
				p.upstreams.Remove(name)
				delete(p.backendEpoch, name)
			}
		})
	}
}
