package router

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// gen draws listeners, routes and probe requests from small vocabularies so
// that random tables overlap a lot (same hosts, paths and names).
type gen struct{ rng *rand.Rand }

func newGen(rng *rand.Rand) *gen { return &gen{rng} }

var (
	genBinds     = []string{":80", ":443"}
	genLHosts    = []string{"", "*.example.com", "a.example.com", "*.b.example.com", "other.org"}
	genRHosts    = []string{"a.example.com", "*.example.com", "x.b.example.com", "*.b.example.com", "other.org", "Other.ORG"}
	genPaths     = []string{"/", "/a", "/a/", "/a/b", "/ab", "/c/d/e", "/c"}
	genRegexes   = []string{"/a/[a-z]+", "/c/.*", "/(", "/x?"}
	genProbeHost = []string{"a.example.com", "z.example.com", "x.b.example.com", "y.b.example.com", "other.org", "example.com", "nomatch.net"}
	genProbePath = []string{"/", "/a", "/a/", "/a/b", "/a/bc", "/ab", "/c/d/e", "/c/d", "/x", "/c"}
)

func (g *gen) pick(s []string) string { return s[g.rng.IntN(len(s))] }

func (g *gen) listenerName() string { return fmt.Sprintf("ns/gw/l%d", g.rng.IntN(6)) }

func (g *gen) listener() *ir.Listener {
	return listener(g.listenerName(), g.pick(genBinds), g.pick(genLHosts))
}

func (g *gen) routeName() string {
	return fmt.Sprintf("ns/r%d/%d", g.rng.IntN(5), g.rng.IntN(3))
}

func (g *gen) route() *ir.Route {
	name := g.routeName()
	var rn string
	var idx int
	fmt.Sscanf(name, "ns/%2s/%d", &rn, &idx)
	r := route(rn, idx, g.listenerName(), nil)
	r.Created = epoch.Add(-timeStep(g.rng.IntN(3)))
	for range g.rng.IntN(2) {
		r.Parents = append(r.Parents, ir.RouteParent{Listener: g.listenerName()})
	}
	for i := range r.Parents {
		for range g.rng.IntN(3) {
			r.Parents[i].Hostnames = append(r.Parents[i].Hostnames, g.pick(genRHosts))
		}
	}
	for range g.rng.IntN(3) {
		r.Matches = append(r.Matches, g.match())
	}
	return r
}

func (g *gen) match() ir.Match {
	var m ir.Match
	switch g.rng.IntN(5) {
	case 0:
		m = exact(g.pick(genPaths))
	case 1:
		m = regex(g.pick(genRegexes))
	default:
		m = prefix(g.pick(genPaths))
	}
	if g.rng.IntN(4) == 0 {
		m.Method = "POST"
	}
	if g.rng.IntN(4) == 0 {
		m.Headers = append(m.Headers, ir.ValueMatch{Name: "x-h", Value: "1"})
	}
	if g.rng.IntN(4) == 0 {
		m.QueryParams = append(m.QueryParams, ir.ValueMatch{Name: "q", Value: "1"})
	}
	return m
}

type probe struct {
	bind, host, target, method string
	header                     bool
}

func (p probe) req() *http.Request {
	r := request(p.method, p.target)
	if p.header {
		r.Header.Set("X-H", "1")
	}
	return r
}

// probes is every combination of bind, host, path and a few request
// variations: deterministic so that both tables see the same requests.
func (g *gen) probes() []probe {
	var out []probe
	for _, b := range genBinds {
		for _, h := range genProbeHost {
			for i, p := range genProbePath {
				out = append(out, probe{bind: b, host: h, target: p, method: "GET"})
				if i%2 == 0 {
					out = append(out, probe{bind: b, host: h, target: p + "?q=1", method: "POST", header: true})
				}
			}
		}
	}
	return out
}

func timeStep(n int) time.Duration { return time.Duration(n) * time.Minute }
