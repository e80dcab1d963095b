package router

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// epoch is the creation time of test routes unless a test sets another.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func listener(name, bind, hostname string) *ir.Listener {
	return &ir.Listener{Name: name, Gateway: "ns/gw", Bind: bind, Hostname: hostname, Protocol: ir.ProtocolHTTP}
}

// route builds a one-match rule "ns/<routeName>/<rule>" on listener l.
func route(routeName string, rule int, l string, hosts []string, matches ...ir.Match) *ir.Route {
	return &ir.Route{
		Name:      fmt.Sprintf("ns/%s/%d", routeName, rule),
		RouteName: "ns/" + routeName,
		RuleIndex: rule,
		Created:   epoch,
		Parents:   []ir.RouteParent{{Listener: l, Hostnames: hosts}},
		Matches:   matches,
		Backends:  []ir.BackendRef{{Backend: "Service/ns/" + routeName, Port: 80, Weight: 1}},
	}
}

func exact(p string) ir.Match  { return ir.Match{Path: ir.PathMatch{Type: ir.PathExact, Value: p}} }
func prefix(p string) ir.Match { return ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: p}} }
func regex(p string) ir.Match  { return ir.Match{Path: ir.PathMatch{Type: ir.PathRegex, Value: p}} }

func request(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func mustBuild(t testing.TB, ls []*ir.Listener, rs []*ir.Route) *Table {
	t.Helper()
	tbl, rej := Build(ls, rs)
	if len(rej) > 0 {
		t.Fatalf("unexpected rejections: %v", rej)
	}
	return tbl
}

// matched returns the name of the rule that matched, or "" for none.
func matched(tbl *Table, bind, host string, r *http.Request) string {
	res := tbl.Match(bind, host, r)
	if res.Route == nil {
		return ""
	}
	return res.Route.IR.Name
}
