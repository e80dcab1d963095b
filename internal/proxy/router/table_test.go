package router

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

func TestBadRouteRejectedOthersServe(t *testing.T) {
	l := "ns/gw/l"
	badPath := route("bad-path", 0, l, nil, regex("/foo/("))
	badHeader := route("bad-header", 0, l, nil, prefix("/h"))
	badHeader.Matches[0].Headers = []ir.ValueMatch{{Name: "x", Value: "[", Regex: true}}
	badFilter := route("bad-filter", 0, l, nil, prefix("/f"))
	badFilter.Backends[0].Filters = []ir.Filter{{Type: ir.FilterRedirect, Redirect: &ir.Redirect{StatusCode: 200}}}
	good := route("good", 0, l, nil, prefix("/"))

	tbl, rej := Build([]*ir.Listener{listener(l, ":80", "")}, []*ir.Route{badPath, badHeader, good, badFilter})
	want := map[string]string{
		"ns/bad-path/0":   "matches[0].path.value: invalid regular expression \"/foo/(\"",
		"ns/bad-header/0": "matches[0].headers[0].value: invalid regular expression \"[\"",
		"ns/bad-filter/0": "backends[0].filters[0] (RequestRedirect): statusCode 200",
	}
	if len(rej) != len(want) {
		t.Fatalf("rejections = %v, want %d", rej, len(want))
	}
	for _, r := range rej {
		field, ok := want[r.ID.Name]
		if !ok || r.ID.Kind != ir.KindRoute {
			t.Errorf("unexpected rejection %v", r)
			continue
		}
		if !strings.Contains(r.Reason, field) || !strings.Contains(r.Reason, r.ID.Name) {
			t.Errorf("reason %q does not name the route and %q", r.Reason, field)
		}
	}
	for _, path := range []string{"/foo/(", "/h", "/f", "/x"} {
		if got := matched(tbl, ":80", "h", request("GET", path, "X", "[")); got != "ns/good/0" {
			t.Errorf("%s matched %q, want the good route", path, got)
		}
	}
	if tbl.Len() != 1 {
		t.Errorf("Len = %d, want 1", tbl.Len())
	}

	// A later fix through Update brings the rule back; a bad upsert of a
	// served rule removes it, as Build would.
	fixed := route("bad-path", 0, l, nil, exact("/foo/1"))
	tbl2, rej2 := tbl.Update(nil, nil, []*ir.Route{fixed}, nil)
	if len(rej2) != 0 || matched(tbl2, ":80", "h", request("GET", "/foo/1")) != "ns/bad-path/0" {
		t.Errorf("fixed rule not served: %v", rej2)
	}
	tbl3, rej3 := tbl2.Update(nil, nil, []*ir.Route{badPath}, nil)
	if len(rej3) != 1 || matched(tbl3, ":80", "h", request("GET", "/foo/1")) != "ns/good/0" {
		t.Errorf("re-broken rule still served or not rejected: %v", rej3)
	}
	if matched(tbl2, ":80", "h", request("GET", "/foo/1")) != "ns/bad-path/0" {
		t.Error("Update modified the table it was called on")
	}
}

func TestPickBackend(t *testing.T) {
	r := route("r", 0, "l", nil)
	r.Backends = []ir.BackendRef{{Backend: "a", Weight: 1}, {Backend: "zero", Weight: 0}, {Backend: "b", Weight: 3}, {Backend: "neg", Weight: -5}}
	cr, err := compileRoute(r)
	if err != nil {
		t.Fatal(err)
	}
	if cr.TotalWeight != 4 {
		t.Fatalf("TotalWeight = %d, want 4", cr.TotalWeight)
	}
	counts := map[string]int{}
	const n = 40000
	for range n {
		counts[cr.PickBackend().IR.Backend]++
	}
	if counts["zero"] != 0 || counts["neg"] != 0 {
		t.Errorf("backends without weight picked: %v", counts)
	}
	// b should get 3/4; allow a wide margin (about 20 standard deviations).
	if got := float64(counts["b"]) / n; got < 0.70 || got > 0.80 {
		t.Errorf("share of b = %.3f, want about 0.75 (%v)", got, counts)
	}
	r.Backends = []ir.BackendRef{{Backend: "a", Weight: 0}}
	cr, _ = compileRoute(r)
	if cr.PickBackend() != nil {
		t.Error("PickBackend with total weight 0 returned a backend")
	}
}

func TestCowMap(t *testing.T) {
	var m cowMap[int]
	versions := []cowMap[int]{m}
	for i := range 1000 {
		ed := m.edit()
		ed.set(fmt.Sprint(i), i)
		if i%3 == 0 {
			ed.del(fmt.Sprint(i / 2))
		}
		m = ed.done()
		versions = append(versions, m)
	}
	// Every version still sees exactly its own contents.
	for v, ver := range versions {
		want := map[string]int{}
		for i := range v {
			want[fmt.Sprint(i)] = i
			if i%3 == 0 {
				delete(want, fmt.Sprint(i/2))
			}
		}
		if ver.len() != len(want) {
			t.Fatalf("version %d: len %d, want %d", v, ver.len(), len(want))
		}
		got := 0
		ver.each(func(k string, val int) {
			got++
			if want[k] != val {
				t.Fatalf("version %d: %s = %d, want %d", v, k, val, want[k])
			}
		})
		if got != len(want) {
			t.Fatalf("version %d: each visited %d, want %d", v, got, len(want))
		}
	}
	if m.shards == nil {
		t.Error("a map of ~830 entries was not sharded")
	}
}

// TestUpdateEqualsBuild applies random sequences of upserts and removes and
// checks that the incrementally updated table answers a set of probe
// requests exactly as a table built from scratch from the same inputs.
func TestUpdateEqualsBuild(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			g := newGen(rng)
			listeners := map[string]*ir.Listener{}
			routes := map[string]*ir.Route{}
			tbl, _ := Build(nil, nil)
			for step := range 40 {
				var lu []*ir.Listener
				var lr, rr []string
				var ru []*ir.Route
				for range rng.IntN(3) {
					if rng.IntN(4) == 0 {
						lr = append(lr, g.listenerName())
					} else {
						lu = append(lu, g.listener())
					}
				}
				for range 1 + rng.IntN(8) {
					if rng.IntN(4) == 0 {
						rr = append(rr, g.routeName())
					} else {
						ru = append(ru, g.route())
					}
				}
				for _, l := range lu {
					listeners[l.Name] = l
				}
				for _, n := range lr {
					delete(listeners, n)
				}
				for _, r := range ru {
					routes[r.Name] = r
				}
				for _, n := range rr {
					delete(routes, n)
				}
				tbl, _ = tbl.Update(lu, lr, ru, rr)
				fresh, _ := Build(mapValues(listeners), mapValues(routes))
				if tbl.Len() != fresh.Len() {
					t.Fatalf("step %d: Len %d, fresh %d", step, tbl.Len(), fresh.Len())
				}
				for _, p := range g.probes() {
					a, b := tbl.Match(p.bind, p.host, p.req()), fresh.Match(p.bind, p.host, p.req())
					if describe(a) != describe(b) {
						t.Fatalf("step %d: %s %s%s: updated %s, fresh %s", step, p.bind, p.host, p.target, describe(a), describe(b))
					}
				}
			}
		})
	}
}

func mapValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func describe(r Result) string {
	s := "listener=<nil>"
	if r.Listener != nil {
		s = "listener=" + r.Listener.Name
	}
	if r.Route != nil {
		s += " route=" + r.Route.IR.Name + " prefix=" + r.MatchedPrefix
	}
	return s
}

// TestUpdateSharesUnchangedParts checks that Update rebuilds only the bucket
// of the changed rule: every other bucket and compiled rule is the same
// object in both tables.
func TestUpdateSharesUnchangedParts(t *testing.T) {
	old := mustBuild(t, []*ir.Listener{listener(benchListener, ":80", "*.example.com")}, hostRoutes(1000))
	add := route("new", 0, benchListener, []string{"new.example.com"}, prefix("/"))
	nt, rej := old.Update(nil, nil, []*ir.Route{add}, []string{"ns/r5/0"})
	if len(rej) != 0 {
		t.Fatal(rej)
	}
	oldHI, _ := old.hosts.get(benchListener)
	newHI, _ := nt.hosts.get(benchListener)
	shared, rebuilt := 0, 0
	oldHI.exact.each(func(host string, b *bucket) {
		nb, ok := newHI.exact.get(host)
		switch {
		case host == "r5.example.com":
			if ok {
				t.Error("bucket of the removed rule is still indexed")
			}
		case nb == b:
			shared++
		default:
			rebuilt++
		}
	})
	if shared != 999 || rebuilt != 0 {
		t.Errorf("shared %d buckets, rebuilt %d; want 999 and 0", shared, rebuilt)
	}
	for _, name := range []string{"ns/r0/0", "ns/r999/0"} {
		a, _ := old.Route(name)
		b, _ := nt.Route(name)
		if a == nil || a != b {
			t.Errorf("compiled rule %s was not shared", name)
		}
	}
	if matched(nt, ":80", "new.example.com", request("GET", "/x")) != "ns/new/0" ||
		matched(nt, ":80", "r5.example.com", request("GET", "/api")) != "" ||
		matched(old, ":80", "r5.example.com", request("GET", "/api")) != "ns/r5/0" {
		t.Error("the update is not visible in the new table only")
	}
}

func TestRouteFiltersCompiled(t *testing.T) {
	r := route("f", 0, "l", nil)
	r.Filters = []ir.Filter{{Type: ir.FilterMirror, Mirror: &ir.Mirror{Backend: ir.BackendRef{Backend: "m"}, Percent: 100}}}
	r.Backends[0].Filters = []ir.Filter{{Type: ir.FilterMirror, Mirror: &ir.Mirror{Backend: ir.BackendRef{Backend: "bm"}, Percent: 10}}}
	tbl := mustBuild(t, []*ir.Listener{listener("l", ":80", "")}, []*ir.Route{r})
	res := tbl.Match(":80", "h", request("GET", "/"))
	if res.Route == nil || len(res.Route.Filters.Mirrors()) != 1 || res.Route.Backends[0].Filters.Mirrors()[0].Backend.Backend != "bm" {
		t.Errorf("filters not compiled onto the route: %+v", res.Route)
	}
	if res.Route.Backends[0].IR != &r.Backends[0] {
		t.Error("Backend.IR does not point at the rule's backendRef")
	}
}

// TestConcurrentMatchAndUpdate is meant for -race: readers of one table
// version run while new versions are derived from it.
func TestConcurrentMatchAndUpdate(t *testing.T) {
	tbl := mustBuild(t, []*ir.Listener{listener(benchListener, ":80", "*.example.com")}, hostRoutes(300))
	done := make(chan struct{})
	go func() {
		defer close(done)
		next := tbl
		for i := range 200 {
			next, _ = next.Update(nil, nil, []*ir.Route{route(fmt.Sprint("r", i), 0, benchListener, []string{"x.example.com"}, prefix("/"))}, nil)
		}
	}()
	for range 2000 {
		if matched(tbl, ":80", "r7.example.com", request("GET", "/api")) != "ns/r7/0" {
			t.Fatal("concurrent Update changed an existing table")
		}
	}
	<-done
}
