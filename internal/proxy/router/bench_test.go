package router

import (
	"fmt"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

const benchListener = "ns/gw/http"

// hostRoutes is n rules, each on its own hostname r<i>.example.com with a
// few paths, as a multi-tenant gateway would have.
func hostRoutes(n int) []*ir.Route {
	rs := make([]*ir.Route, n)
	for i := range rs {
		rs[i] = route(fmt.Sprintf("r%d", i), 0, benchListener, []string{fmt.Sprintf("r%d.example.com", i)},
			prefix("/api"), exact("/healthz"), prefix("/static/assets"))
	}
	return rs
}

// prefixRoutes is n rules on one host, each with its own path prefix.
func prefixRoutes(n int) []*ir.Route {
	rs := make([]*ir.Route, n)
	for i := range rs {
		rs[i] = route(fmt.Sprintf("p%d", i), 0, benchListener, []string{"api.example.com"},
			prefix(fmt.Sprintf("/svc%d", i)))
	}
	return rs
}

func benchListeners() []*ir.Listener {
	return []*ir.Listener{listener(benchListener, ":80", "*.example.com"), listener("ns/gw/other", ":80", "")}
}

func benchMatch(b *testing.B, routes []*ir.Route, host, target string) {
	tbl := mustBuild(b, benchListeners(), routes)
	r := request("GET", target)
	if tbl.Match(":80", host, r).Route == nil {
		b.Fatalf("%s%s does not match", host, target)
	}
	b.ReportAllocs()
	for b.Loop() {
		tbl.Match(":80", host, r)
	}
}

func BenchmarkMatch10(b *testing.B) {
	benchMatch(b, hostRoutes(10), "r7.example.com", "/api/v1/users")
}

func BenchmarkMatch5000(b *testing.B) {
	benchMatch(b, hostRoutes(5000), "r4321.example.com", "/api/v1/users")
}

func BenchmarkMatchPrefixes10(b *testing.B) {
	benchMatch(b, prefixRoutes(10), "api.example.com", "/svc7/v1/users")
}

func BenchmarkMatchPrefixes5000(b *testing.B) {
	benchMatch(b, prefixRoutes(5000), "api.example.com", "/svc4321/v1/users")
}

func BenchmarkBuild5000(b *testing.B) {
	ls, rs := benchListeners(), hostRoutes(5000)
	b.ReportAllocs()
	for b.Loop() {
		Build(ls, rs)
	}
}

// BenchmarkUpdateAddHost adds one rule on its own hostname to a table of
// 5,000; compare with BenchmarkBuild5000.
func BenchmarkUpdateAddHost(b *testing.B) {
	tbl := mustBuild(b, benchListeners(), hostRoutes(5000))
	add := []*ir.Route{route("new", 0, benchListener, []string{"new.example.com"}, prefix("/"))}
	b.ReportAllocs()
	for b.Loop() {
		tbl.Update(nil, nil, add, nil)
	}
}

// BenchmarkUpdateAddPrefix adds one prefix to the host that already has
// 5,000 prefixes: only that prefix's group is rebuilt.
func BenchmarkUpdateAddPrefix(b *testing.B) {
	tbl := mustBuild(b, benchListeners(), prefixRoutes(5000))
	add := []*ir.Route{route("new", 0, benchListener, []string{"api.example.com"}, prefix("/new"))}
	b.ReportAllocs()
	for b.Loop() {
		tbl.Update(nil, nil, add, nil)
	}
}
