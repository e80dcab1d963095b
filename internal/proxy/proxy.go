package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/listener"
	"gatehouse.dev/gatehouse/internal/proxy/llm"
	"gatehouse.dev/gatehouse/internal/proxy/policy"
	"gatehouse.dev/gatehouse/internal/proxy/router"
	"gatehouse.dev/gatehouse/internal/proxy/upstream"
)

// Options configures a Proxy.
type Options struct {
	Logger   *slog.Logger
	Listener listener.Options
	Upstream upstream.Options
	// MaxMirrorBody is the largest request body buffered to send a mirror
	// copy; larger bodies are forwarded but not mirrored. Default 1 MiB.
	MaxMirrorBody int64
	// Observer, when set, sees every request (metrics, access logs,
	// tracing).
	Observer Observer
	// AccessLog receives TrafficPolicy access-log lines (JSON, one per line);
	// default os.Stdout.
	AccessLog io.Writer
	// MaxPolicyBody is the largest request body buffered for policies whose
	// CEL expressions read it (default 2 MiB); expressions see no body
	// beyond it.
	MaxPolicyBody int64
}

// Proxy is one data-plane instance.
type Proxy struct {
	log  *slog.Logger
	opts Options

	accessLog   io.Writer
	accessLogMu sync.Mutex

	// mu serialises Apply; requests never take it.
	mu        sync.Mutex
	resources map[ir.ID]ir.Resource // last good version of every resource
	version   uint64
	rejected  []ir.Rejection

	table    atomic.Pointer[router.Table]
	policies atomic.Pointer[policy.Set]
	// llms holds the LLM sections of backends, by backend name.
	llms  atomic.Pointer[map[string]*llm.Backend]
	certs atomic.Pointer[map[string]*tls.Certificate]
	// clientPools caches frontend client-validation CA pools.
	clientPools clientPools
	binds       map[string]*ir.Bind
	// bindFailures counts binds whose socket could not be opened.
	bindFailures int
	upstreams    *upstream.Registry
	listeners    *listener.Manager
	ready        atomic.Bool
	// l4 serves TLS and TCP binds (l4config.go).
	l4 *l4State
	// backendEpoch counts upserts and removals per backend, so a delayed
	// removal skips a backend added again meanwhile (backend_removal.go).
	backendEpoch map[string]uint64
}

// New returns a proxy with an empty configuration and no open sockets.
func New(o Options) *Proxy {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxMirrorBody == 0 {
		o.MaxMirrorBody = 1 << 20
	}
	if o.MaxPolicyBody == 0 {
		o.MaxPolicyBody = 2 << 20
	}
	if o.AccessLog == nil {
		o.AccessLog = os.Stdout
	}
	o.Upstream.Logger = o.Logger
	o.Listener.Logger = o.Logger
	p := &Proxy{log: o.Logger, opts: o, accessLog: o.AccessLog, resources: map[ir.ID]ir.Resource{}, binds: map[string]*ir.Bind{},
		upstreams: upstream.NewRegistry(o.Upstream)}
	empty, _ := router.Build(nil, nil)
	p.table.Store(empty)
	p.policies.Store(policy.Empty)
	noCerts := map[string]*tls.Certificate{}
	p.certs.Store(&noCerts)
	p.listeners = listener.NewManager(o.Listener, p.handlerFor, p.certificateFor)
	p.listeners.SetClientAuth(p.clientAuthFor)
	p.l4 = newL4State(p)
	p.listeners.SetStreamHandler(p.l4.serveConn)
	return p
}

// Apply applies one delta and returns the resources it rejected. Rejected
// resources keep their previous version; everything else takes effect before
// Apply returns.
func (p *Proxy) Apply(d ir.Delta) []ir.Rejection {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rej []ir.Rejection
	var lUp, rUp []ir.Resource
	var lRm, rRm []string
	var pUp []*ir.Policy
	var pRm []string
	var bindsChanged bool
	// Backends are removed a grace period after the new table is in place:
	// requests matched on the old table may still use them (a route moving
	// off a backend arrives with that backend's removal in one delta).
	var backendRm []string
	certs := p.applyCertificates(d, &rej)
	for _, r := range d.Upserts {
		switch v := r.(type) {
		case *ir.Backend:
			if err := p.upstreams.Update(v); err != nil {
				rej = append(rej, ir.Rejection{ID: v.ResourceID(), Reason: err.Error()})
				continue
			}
			p.resources[v.ResourceID()] = v
			p.bumpBackendEpoch(v.Name)
		case *ir.Listener:
			lUp = append(lUp, v)
		case *ir.Route:
			rUp = append(rUp, v)
		case *ir.Policy:
			pUp = append(pUp, v)
		case *ir.Bind:
			p.binds[v.Name] = v
			p.resources[v.ResourceID()] = v
			bindsChanged = true
		}
	}
	for _, id := range d.Removes {
		switch id.Kind {
		case ir.KindBackend:
			backendRm = append(backendRm, id.Name)
		case ir.KindListener:
			lRm = append(lRm, id.Name)
		case ir.KindRoute:
			rRm = append(rRm, id.Name)
		case ir.KindPolicy:
			pRm = append(pRm, id.Name)
		case ir.KindBind:
			delete(p.binds, id.Name)
			bindsChanged = true
		}
		if id.Kind != ir.KindCertificate {
			delete(p.resources, id)
		}
	}
	if certs != nil {
		p.certs.Store(&certs)
	}
	p.applyLLMBackends(d)
	if len(pUp)+len(pRm) > 0 {
		rej = append(rej, p.updatePolicies(pUp, pRm)...)
	}
	if len(lUp)+len(lRm)+len(rUp)+len(rRm) > 0 {
		rej = append(rej, p.updateTable(lUp, lRm, rUp, rRm)...)
	}
	p.applyL4(d)
	p.removeBackendsLater(backendRm)
	// Failed binds are retried on every delta (a freed port is picked up),
	// and reported every time, so the control plane's view stays current.
	if bindsChanged || p.bindFailures > 0 {
		rej = append(rej, p.reconcileBinds()...)
	}
	p.version = d.Version
	p.rejected = rej
	p.ready.Store(true)
	for _, r := range rej {
		p.log.Warn("config rejected", "resource", r.ID.String(), "reason", r.Reason, "version", d.Version)
	}
	return rej
}

// applyCertificates parses changed certificates into a new map (nil when no
// certificate changed). A certificate that does not parse is rejected.
func (p *Proxy) applyCertificates(d ir.Delta, rej *[]ir.Rejection) map[string]*tls.Certificate {
	changed := false
	next := map[string]*tls.Certificate{}
	for k, v := range *p.certs.Load() {
		next[k] = v
	}
	for _, r := range d.Upserts {
		c, ok := r.(*ir.Certificate)
		if !ok {
			continue
		}
		kp, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
		if err != nil {
			*rej = append(*rej, ir.Rejection{ID: c.ResourceID(), Reason: fmt.Sprintf("certificate %s: %v", c.Name, err)})
			continue
		}
		next[c.Name] = &kp
		p.resources[c.ResourceID()] = c
		changed = true
	}
	for _, id := range d.Removes {
		if id.Kind == ir.KindCertificate {
			delete(next, id.Name)
			delete(p.resources, id)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return next
}

func (p *Proxy) updateTable(lUp []ir.Resource, lRm []string, rUp []ir.Resource, rRm []string) []ir.Rejection {
	ls := make([]*ir.Listener, len(lUp))
	for i, r := range lUp {
		ls[i] = r.(*ir.Listener)
	}
	rs := make([]*ir.Route, len(rUp))
	for i, r := range rUp {
		rs[i] = r.(*ir.Route)
	}
	next, rej := p.table.Load().Update(ls, lRm, rs, rRm)
	bad := map[ir.ID]bool{}
	var restoreL []*ir.Listener
	var restoreR []*ir.Route
	for _, r := range rej {
		bad[r.ID] = true
		// Keep serving the last good version of a rejected resource.
		switch prev := p.resources[r.ID].(type) {
		case *ir.Listener:
			restoreL = append(restoreL, prev)
		case *ir.Route:
			restoreR = append(restoreR, prev)
		}
	}
	if len(restoreL)+len(restoreR) > 0 {
		next, _ = next.Update(restoreL, nil, restoreR, nil)
	}
	for _, r := range append(lUp, rUp...) {
		if !bad[r.ResourceID()] {
			p.resources[r.ResourceID()] = r
		}
	}
	p.table.Store(next)
	return rej
}

func (p *Proxy) updatePolicies(up []*ir.Policy, rm []string) []ir.Rejection {
	next, rej := p.policies.Load().Update(up, rm)
	bad := map[ir.ID]bool{}
	for _, r := range rej {
		bad[r.ID] = true
	}
	for _, pol := range up {
		if !bad[pol.ResourceID()] {
			p.resources[pol.ResourceID()] = pol
		}
	}
	p.policies.Store(next)
	return rej
}

func (p *Proxy) reconcileBinds() []ir.Rejection {
	list := make([]*ir.Bind, 0, len(p.binds))
	for _, b := range p.binds {
		list = append(list, b)
	}
	sort.Slice(list, func(a, b int) bool { return list[a].Name < list[b].Name })
	var rej []ir.Rejection
	for name, err := range p.listeners.Reconcile(list) {
		rej = append(rej, ir.Rejection{ID: ir.ID{Kind: ir.KindBind, Name: name}, Reason: err.Error()})
	}
	sort.Slice(rej, func(a, b int) bool { return rej[a].ID.Name < rej[b].ID.Name })
	p.bindFailures = len(rej)
	return rej
}

// Run applies deltas from next until ctx ends, reporting each result.
func (p *Proxy) Run(ctx context.Context, next func(context.Context) (ir.Delta, error), report func(uint64, []ir.Rejection)) error {
	for {
		d, err := next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		rej := p.Apply(d)
		if report != nil {
			report(d.Version, rej)
		}
	}
}

// Ready reports whether the proxy has applied a configuration.
func (p *Proxy) Ready() bool { return p.ready.Load() }

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// and closes every socket.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.ready.Store(false)
	return p.listeners.Shutdown(ctx)
}

// EndpointHealth returns the balancer's view of every backend's endpoints
// (readiness, passive-health ejection, requests in flight), for the admin
// page.
func (p *Proxy) EndpointHealth() []upstream.BackendHealth { return p.upstreams.Health() }

// Listeners returns the socket manager (for tests and the admin page).
func (p *Proxy) Listeners() *listener.Manager { return p.listeners }

// Dump is the proxy's current configuration, for the admin config dump.
type Dump struct {
	Version    uint64         `json:"version"`
	Rejections []ir.Rejection `json:"rejections,omitempty"`
	Resources  []DumpEntry    `json:"resources"`
}

// DumpEntry is one resource of a Dump.
type DumpEntry struct {
	ID       ir.ID       `json:"id"`
	Resource ir.Resource `json:"resource"`
}

// ConfigDump returns every resource the proxy serves, sorted by ID. Private
// keys are left out.
func (p *Proxy) ConfigDump() Dump {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := Dump{Version: p.version, Rejections: append([]ir.Rejection(nil), p.rejected...)}
	for id, r := range p.resources {
		if c, ok := r.(*ir.Certificate); ok {
			r = &ir.Certificate{Name: c.Name, CertPEM: c.CertPEM}
		}
		if b, ok := r.(*ir.Backend); ok && b.LLM != nil && b.LLM.APIKey != "" {
			r = redactAPIKey(b)
		}
		if b, ok := r.(*ir.Backend); ok && b.TLS != nil && len(b.TLS.ClientKeyPEM) > 0 {
			c, t := *b, *b.TLS // the client key is a credential
			t.ClientKeyPEM = nil
			c.TLS = &t
			r = &c
		}
		d.Resources = append(d.Resources, DumpEntry{ID: id, Resource: r})
	}
	sort.Slice(d.Resources, func(a, b int) bool { return idLess(d.Resources[a].ID, d.Resources[b].ID) })
	return d
}

func idLess(a, b ir.ID) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.Name < b.Name
}

var _ http.Handler = (*bindHandler)(nil)
