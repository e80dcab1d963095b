package router

import (
	"fmt"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Table is a compiled, immutable route table. It is safe for concurrent
// Match calls; Update returns a new Table and leaves the old one intact, so a
// proxy can swap a pointer while requests are in flight.
type Table struct {
	listeners map[string]*ir.Listener // by name
	binds     map[string]*bindIndex   // by bind name
	routes    cowMap[*Route]          // accepted rules by name
	// hosts indexes routes by the listener name they attach to. It is kept
	// for listener names that do not exist (yet), so that adding a listener
	// never re-indexes its routes.
	hosts cowMap[*hostIndex]
}

// Result is the outcome of Match.
type Result struct {
	// Listener is the listener that accepted the request; nil when no
	// listener of the bind serves the host.
	Listener *ir.Listener
	// Route is the rule that matched; nil means no route (answer 404).
	Route *Route
	// MatchedPrefix is the PathPrefix value (as written in the route) that
	// matched, for ReplacePrefixMatch; "" for exact and regex matches.
	MatchedPrefix string
}

// Build compiles listeners and routes. Rules that fail to compile (a bad
// regex, an invalid filter) are left out and reported as rejections naming
// the rule and the field; everything else is served.
func Build(listeners []*ir.Listener, routes []*ir.Route) (*Table, []ir.Rejection) {
	return (&Table{}).Update(listeners, nil, routes, nil)
}

// Update returns a new Table equal to Build of t's inputs with the changes
// applied: upserts replace by Name, removes are names (absent names are
// ignored; a name both upserted and removed ends removed). Only the buckets
// the changed rules live in are rebuilt; everything else is shared with t,
// so the cost follows the size of the change, not of the table. A rejected
// upsert removes the previous version of the rule, as Build would.
func (t *Table) Update(lUpserts []*ir.Listener, lRemoves []string, rUpserts []*ir.Route, rRemoves []string) (*Table, []ir.Rejection) {
	nt := *t
	if len(lUpserts) > 0 || len(lRemoves) > 0 {
		nt.listeners, nt.binds = t.updateListeners(lUpserts, lRemoves)
	}
	if len(rUpserts) == 0 && len(rRemoves) == 0 {
		return &nt, nil
	}
	ed := &routeEdit{routes: t.routes.edit(), changes: map[string]map[string]*bucketChange{}}
	rejections := ed.apply(rUpserts, rRemoves)
	nt.routes = ed.routes.done()
	hosts := t.hosts.edit()
	for listener, byHost := range ed.changes {
		old, _ := hosts.get(listener)
		if hi := old.apply(byHost); hi.empty() {
			hosts.del(listener)
		} else {
			hosts.set(listener, hi)
		}
	}
	nt.hosts = hosts.done()
	return &nt, rejections
}

// routeEdit collects the effect of route upserts and removes: the new set of
// compiled rules and, per listener and host key, the bucket changes.
type routeEdit struct {
	routes  *cowEditor[*Route]
	changes map[string]map[string]*bucketChange // listener -> host key -> change
}

func (ed *routeEdit) apply(upserts []*ir.Route, removes []string) []ir.Rejection {
	removed := make(map[string]bool, len(removes))
	for _, name := range removes {
		removed[name] = true
		ed.unindex(name)
	}
	latest := make(map[string]*ir.Route, len(upserts))
	for _, r := range upserts {
		latest[r.Name] = r
	}
	var rejections []ir.Rejection
	done := make(map[string]bool, len(upserts))
	for _, r := range upserts {
		if latest[r.Name] != r || removed[r.Name] || done[r.Name] {
			continue // superseded or repeated within this update
		}
		done[r.Name] = true
		ed.unindex(r.Name)
		cr, err := compileRoute(r)
		if err != nil {
			rejections = append(rejections, ir.Rejection{ID: r.ResourceID(), Reason: rejectionReason(r, err)})
			continue
		}
		ed.routes.set(r.Name, cr)
		for _, p := range cr.places {
			ch := ed.change(p)
			ch.added = append(ch.added, cr)
		}
	}
	return rejections
}

// unindex drops the current version of a rule, if any.
func (ed *routeEdit) unindex(name string) {
	old, ok := ed.routes.get(name)
	if !ok {
		return
	}
	for _, p := range old.places {
		ch := ed.change(p)
		ch.removed = append(ch.removed, old)
	}
	ed.routes.del(name)
}

func (ed *routeEdit) change(p place) *bucketChange {
	byHost := ed.changes[p.listener]
	if byHost == nil {
		byHost = map[string]*bucketChange{}
		ed.changes[p.listener] = byHost
	}
	ch := byHost[p.host]
	if ch == nil {
		ch = &bucketChange{}
		byHost[p.host] = ch
	}
	return ch
}

func rejectionReason(r *ir.Route, err error) string {
	return fmt.Sprintf("route %s (HTTPRoute %s rule %d): %v; the rule is not served until it is fixed",
		r.Name, r.RouteName, r.RuleIndex, err)
}

// updateListeners copies the listener set with the changes applied and
// re-indexes only the binds whose listeners changed.
func (t *Table) updateListeners(upserts []*ir.Listener, removes []string) (map[string]*ir.Listener, map[string]*bindIndex) {
	listeners := make(map[string]*ir.Listener, len(t.listeners)+len(upserts))
	for k, v := range t.listeners {
		listeners[k] = v
	}
	dirty := map[string]bool{}
	for _, l := range upserts {
		if old, ok := listeners[l.Name]; ok {
			dirty[old.Bind] = true
		}
		listeners[l.Name] = l
		dirty[l.Bind] = true
	}
	for _, name := range removes {
		if old, ok := listeners[name]; ok {
			dirty[old.Bind] = true
			delete(listeners, name)
		}
	}
	binds := make(map[string]*bindIndex, len(t.binds)+len(dirty))
	for k, v := range t.binds {
		if !dirty[k] {
			binds[k] = v
		}
	}
	byBind := map[string][]*ir.Listener{}
	for _, l := range listeners {
		if dirty[l.Bind] {
			byBind[l.Bind] = append(byBind[l.Bind], l)
		}
	}
	for bind, ls := range byBind {
		binds[bind] = newBindIndex(ls)
	}
	return listeners, binds
}

// Listener returns the listener of bind that serves host: the most specific
// listener hostname that matches (exact beats wildcard, a longer wildcard
// beats a shorter one, no hostname comes last); nil if none. host is lower
// case without port; SNI selection uses it too.
func (t *Table) Listener(bind, host string) *ir.Listener {
	bi := t.binds[bind]
	if bi == nil {
		return nil
	}
	return bi.lookup(strings.TrimSuffix(host, "."))
}

// Match selects the rule for a request that arrived on bind. host is the
// request host without port, lower-cased. Only routes attached to the
// listener chosen by Listener are considered (listener isolation). Within
// it, the exact-hostname bucket is tried first, then wildcard buckets from
// the most specific, then routes without hostnames; the first bucket with a
// matching rule wins, and within a bucket the HTTPRoute match precedence
// applies. Match does not allocate.
func (t *Table) Match(bind, host string, r *http.Request) Result {
	host = strings.TrimSuffix(host, ".")
	var res Result
	if bi := t.binds[bind]; bi != nil {
		res.Listener = bi.lookup(host)
	}
	if res.Listener == nil {
		return res
	}
	hi, ok := t.hosts.get(res.Listener.Name)
	if !ok {
		return res
	}
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	if e := hi.lookup(host, path, r); e != nil {
		res.Route = e.route
		res.MatchedPrefix = e.match.prefix
	}
	return res
}

// Route returns the compiled rule with the given name, if it was accepted.
func (t *Table) Route(name string) (*Route, bool) { return t.routes.get(name) }

// Len returns the number of accepted rules.
func (t *Table) Len() int { return t.routes.len() }
