package router

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/filter"
)

// Route is a compiled ir.Route: the rule plus its precompiled matches and
// filter chains. It is immutable and shared between table versions.
type Route struct {
	// IR is the rule as received; it must not be modified.
	IR *ir.Route
	// Filters is the rule-level filter chain (nil when the rule has none).
	Filters *filter.Chain
	// Backends are the compiled IR.Backends, in the same order.
	Backends []Backend
	// TotalWeight is the sum of the backends' (non-negative) weights.
	TotalWeight int32

	entries []*entry // one per match, in match order
	places  []place  // the listener hostname buckets the rule is indexed in
}

// Backend is one compiled backendRef of a Route.
type Backend struct {
	// IR is the backendRef as received.
	IR *ir.BackendRef
	// Filters run only for requests sent to this backend (nil when none).
	Filters *filter.Chain
}

// PickBackend chooses a backend at random in proportion to the weights. It
// returns nil when the total weight is 0 (the caller answers 500 per the
// spec). It takes no locks and is safe for concurrent use.
func (r *Route) PickBackend() *Backend {
	if r.TotalWeight <= 0 {
		return nil
	}
	n := rand.Int32N(r.TotalWeight)
	for i := range r.Backends {
		w := max(r.Backends[i].IR.Weight, 0)
		if n < w {
			return &r.Backends[i]
		}
		n -= w
	}
	return nil // unreachable while TotalWeight is the sum of the weights
}

// entry is one match of one rule: the unit a bucket indexes and orders.
type entry struct {
	route *Route
	match *compiledMatch
	index int // position of the match within the rule
}

// place is one (listener, hostname) bucket a route is indexed in. host is
// "" for "any host the listener accepts", the lower-case hostname for an
// exact name, and ".suffix" for "*.suffix".
type place struct {
	listener string
	host     string
}

// compileRoute compiles r. The error names the field that failed.
func compileRoute(r *ir.Route) (*Route, error) {
	out := &Route{IR: r}
	matches := r.Matches
	if len(matches) == 0 {
		matches = []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}}}
	}
	for i := range matches {
		cm, err := compileMatch(&matches[i])
		if err != nil {
			return nil, fmt.Errorf("matches[%d].%w", i, err)
		}
		out.entries = append(out.entries, &entry{route: out, match: cm, index: i})
	}
	chain, err := filter.Compile(r.Filters)
	if err != nil {
		return nil, err
	}
	out.Filters = chain
	out.Backends = make([]Backend, len(r.Backends))
	for i := range r.Backends {
		b := &r.Backends[i]
		chain, err := filter.Compile(b.Filters)
		if err != nil {
			return nil, fmt.Errorf("backends[%d].%w", i, err)
		}
		out.Backends[i] = Backend{IR: b, Filters: chain}
		out.TotalWeight += max(b.Weight, 0)
	}
	out.places = routePlaces(r)
	return out, nil
}

// routePlaces lists the distinct buckets of r. A parent without hostnames
// puts the rule in the listener's "any host" bucket.
func routePlaces(r *ir.Route) []place {
	var out []place
	addPlace := func(p place) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range r.Parents {
		if len(p.Hostnames) == 0 {
			addPlace(place{listener: p.Listener})
		}
		for _, h := range p.Hostnames {
			addPlace(place{listener: p.Listener, host: hostKey(h)})
		}
	}
	return out
}

// hostKey turns a hostname into its bucket key: lower case, "*.x" becomes
// ".x", "*" becomes "" (any host).
func hostKey(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "*" {
		return ""
	}
	if rest, ok := strings.CutPrefix(h, "*"); ok {
		return rest
	}
	return h
}

// compareEntries orders entries by HTTPRouteRule.Matches precedence: exact
// path, then longest prefix, then regex; then a method match, more header
// matches, more query matches; then the oldest route, the alphabetically
// first route, the first rule, the first match. The rule Name breaks any tie
// left (duplicate rules), so that the order never depends on how the table
// was built.
func compareEntries(a, b *entry) int {
	am, bm := a.match, b.match
	if c := cmp.Compare(am.kind, bm.kind); c != 0 {
		return c
	}
	if c := cmp.Compare(len(bm.key), len(am.key)); am.kind == kindPrefix && c != 0 {
		return c
	}
	if c := cmp.Compare(boolRank(am.method != ""), boolRank(bm.method != "")); c != 0 {
		return c
	}
	if c := cmp.Compare(len(bm.headers), len(am.headers)); c != 0 {
		return c
	}
	if c := cmp.Compare(len(bm.query), len(am.query)); c != 0 {
		return c
	}
	ar, br := a.route.IR, b.route.IR
	if c := ar.Created.Compare(br.Created); c != 0 {
		return c
	}
	if c := cmp.Compare(ar.RouteName, br.RouteName); c != 0 {
		return c
	}
	if c := cmp.Compare(ar.RuleIndex, br.RuleIndex); c != 0 {
		return c
	}
	if c := cmp.Compare(ar.Name, br.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.index, b.index)
}

// boolRank sorts true first.
func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}
