package l4

import (
	"sort"
	"strings"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Table is an immutable, compiled L4 configuration.
type Table struct {
	binds    map[string]*bindEntry
	backends map[string]*ir.Backend
}

// bindEntry is one socket's listeners, most specific hostname first.
type bindEntry struct {
	listeners []*listenerEntry
}

// listenerEntry is one listener and the routes attached to it, indexed by
// the server names they serve there.
type listenerEntry struct {
	l     *ir.Listener
	exact map[string]*ir.L4Route
	// wildcard holds "*.suffix" entries, longest suffix first.
	wildcard []wildcardRoute
	// any is the route attached without hostnames (every TCPRoute).
	any *ir.L4Route
}

type wildcardRoute struct {
	suffix string // ".example.com"
	route  *ir.L4Route
}

// Build compiles a table. Only TLS and TCP listeners are used; routes name
// their listeners, and Backends are looked up by the routes' references.
// When several routes claim the same listener and server name, the oldest
// (then alphabetically first) wins, as the Gateway API's conflict rule says.
func Build(listeners map[string]*ir.Listener, routes map[string]*ir.L4Route, backends map[string]*ir.Backend) *Table {
	t := &Table{binds: map[string]*bindEntry{}, backends: map[string]*ir.Backend{}}
	byName := map[string]*listenerEntry{}
	for _, l := range listeners {
		if l.Protocol != ir.ProtocolTLS && l.Protocol != ir.ProtocolTCP {
			continue
		}
		e := &listenerEntry{l: l, exact: map[string]*ir.L4Route{}}
		byName[l.Name] = e
		b := t.binds[l.Bind]
		if b == nil {
			b = &bindEntry{}
			t.binds[l.Bind] = b
		}
		b.listeners = append(b.listeners, e)
	}
	ordered := make([]*ir.L4Route, 0, len(routes))
	for _, r := range routes {
		ordered = append(ordered, r)
	}
	sort.Slice(ordered, func(a, b int) bool { return olderRoute(ordered[a], ordered[b]) })
	for _, r := range ordered {
		used := false
		for _, p := range r.Parents {
			e := byName[p.Listener]
			if e == nil {
				continue
			}
			used = true
			e.add(r, p.Hostnames)
		}
		if !used {
			continue
		}
		for _, br := range r.Backends {
			if b := backends[br.Backend]; b != nil {
				t.backends[b.Name] = b
			}
		}
	}
	for _, b := range t.binds {
		sort.Slice(b.listeners, func(i, j int) bool { return moreSpecific(b.listeners[i].l, b.listeners[j].l) })
		for _, e := range b.listeners {
			sort.SliceStable(e.wildcard, func(i, j int) bool { return len(e.wildcard[i].suffix) > len(e.wildcard[j].suffix) })
		}
	}
	return t
}

// add records r for hosts; routes arrive oldest first, so the first one
// to claim a name keeps it.
func (e *listenerEntry) add(r *ir.L4Route, hosts []string) {
	if len(hosts) == 0 {
		if e.any == nil {
			e.any = r
		}
		return
	}
	for _, h := range hosts {
		h = strings.ToLower(h)
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if !e.hasWildcard(suffix) {
				e.wildcard = append(e.wildcard, wildcardRoute{suffix: suffix, route: r})
			}
			continue
		}
		if _, taken := e.exact[h]; !taken {
			e.exact[h] = r
		}
	}
}

func (e *listenerEntry) hasWildcard(suffix string) bool {
	for _, w := range e.wildcard {
		if w.suffix == suffix {
			return true
		}
	}
	return false
}

func olderRoute(a, b *ir.L4Route) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	return a.Name < b.Name
}

// moreSpecific orders listeners for server-name matching: exact hostnames,
// then wildcards (longest first), then listeners without a hostname; ties by
// name so the order is stable.
func moreSpecific(a, b *ir.Listener) bool {
	ra, rb := hostRank(a.Hostname), hostRank(b.Hostname)
	if ra != rb {
		return ra < rb
	}
	if len(a.Hostname) != len(b.Hostname) {
		return len(a.Hostname) > len(b.Hostname)
	}
	return a.Name < b.Name
}

func hostRank(h string) int {
	switch {
	case h == "":
		return 2
	case strings.HasPrefix(h, "*."):
		return 1
	}
	return 0
}

// hostMatches reports whether a listener hostname accepts a server name.
func hostMatches(listener, name string) bool {
	switch {
	case listener == "":
		return true
	case strings.HasPrefix(listener, "*."):
		return len(name) > len(listener)-1 && strings.HasSuffix(name, listener[1:])
	}
	return listener == name
}

// Lookup returns the listener of bind that serves the server name (empty
// for TCP and for TLS clients that send none) and the route that gets the
// connection. Either is nil when nothing matches: the connection is closed.
func (t *Table) Lookup(bind, serverName string) (*ir.Listener, *ir.L4Route) {
	b := t.binds[bind]
	if b == nil {
		return nil, nil
	}
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	for _, e := range b.listeners {
		if e.l.Protocol == ir.ProtocolTCP {
			if e.any != nil {
				return e.l, e.any
			}
			continue
		}
		if !hostMatches(e.l.Hostname, name) {
			continue
		}
		return e.l, e.route(name)
	}
	return nil, nil
}

// route picks the route for a server name: exact, then the longest
// wildcard, then a route attached without hostnames.
func (e *listenerEntry) route(name string) *ir.L4Route {
	if r := e.exact[name]; r != nil && name != "" {
		return r
	}
	for _, w := range e.wildcard {
		if len(name) > len(w.suffix) && strings.HasSuffix(name, w.suffix) {
			return w.route
		}
	}
	return e.any
}

// Backend returns a Backend a route of the table references.
func (t *Table) Backend(name string) *ir.Backend { return t.backends[name] }
