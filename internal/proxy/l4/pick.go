package l4

import (
	"math/rand/v2"
	"sync/atomic"

	"gatehouse.dev/gatehouse/internal/ir"
)

// pickShare chooses a backend reference with probability proportional to
// its weight; nil when every weight is zero.
func pickShare(refs []ir.BackendRef) *ir.BackendRef {
	total := int64(0)
	for i := range refs {
		total += int64(max(refs[i].Weight, 0))
	}
	if total == 0 {
		return nil
	}
	n := rand.Int64N(total)
	for i := range refs {
		if n -= int64(max(refs[i].Weight, 0)); n < 0 {
			return &refs[i]
		}
	}
	return nil
}

// endpoints returns the endpoints for a referenced port: the ready ones,
// or all when none is ready (as the HTTP path does). Port 0 means the
// backend's port-0 entry or, failing that, its first port.
func endpoints(b *ir.Backend, port int32) []ir.Endpoint {
	var bp *ir.BackendPort
	for i := range b.Ports {
		if b.Ports[i].Port == port {
			bp = &b.Ports[i]
			break
		}
	}
	if bp == nil && port == 0 && len(b.Ports) > 0 {
		bp = &b.Ports[0]
	}
	if bp == nil {
		return nil
	}
	ready := make([]ir.Endpoint, 0, len(bp.Endpoints))
	for _, e := range bp.Endpoints {
		if e.Ready {
			ready = append(ready, e)
		}
	}
	if len(ready) == 0 {
		return bp.Endpoints
	}
	return ready
}

// picker spreads connections over endpoints round-robin; a connection
// that fails to connect tries the next ones.
type picker struct{ next atomic.Uint64 }

// order returns up to n endpoints to try, starting at the next in turn.
func (p *picker) order(eps []ir.Endpoint, n int) []ir.Endpoint {
	n = min(n, len(eps))
	start := int(p.next.Add(1) % uint64(len(eps)))
	out := make([]ir.Endpoint, 0, n)
	for i := range n {
		out = append(out, eps[(start+i)%len(eps)])
	}
	return out
}
