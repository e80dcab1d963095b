package admin

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/upstream"
	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/translate"
)

//go:embed page.html
var pageFS embed.FS

var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"join": strings.Join,
}).ParseFS(pageFS, "page.html"))

// page is the overview page's model: everything is read once per request
// from the Sources and flattened into rows.
type page struct {
	Title      string
	Ready      bool
	HasConfig  bool
	Version    uint64
	Rejections []ir.Rejection
	Gateways   []gatewayRow
	Routes     []routeRow
	Backends   []backendRow
	Policies   []policyRow
	Objects    []objectRow
	Problems   []source.Problem
	Proxies    []xds.ProxyStatus
	HasProxies bool
	// HasEndpoints: the balancer's endpoint state is shown.
	HasEndpoints bool
}

type gatewayRow struct {
	Name      string
	Listeners []listenerRow
}

type listenerRow struct {
	Name, Bind, Hostname, Protocol string
	Rules                          int
}

type routeRow struct {
	Name      string
	Rules     int
	Listeners []string
	Backends  []string
}

type backendRow struct {
	Name      string
	Endpoints []endpointRow
}

type endpointRow struct {
	Address string
	Ready   bool
	// Health is known when the proxy's balancer state is available.
	Health      bool
	Ejected     bool
	Outstanding int64
	Failures    int32
}

type policyRow struct {
	Name     string
	Targets  []string
	Sections []string
}

type objectRow struct {
	Object     string
	OK         bool
	Conditions []string
}

func pageHandler(s Sources) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := pageTemplate.Execute(&buf, buildPage(s)); err != nil {
			http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	})
}

func buildPage(s Sources) *page {
	p := &page{Title: s.Title}
	if p.Title == "" {
		p.Title = "gatehouse"
	}
	p.Ready = s.Ready != nil && s.Ready()
	if s.ConfigDump != nil {
		if d, ok := s.ConfigDump().(proxy.Dump); ok {
			p.HasConfig = true
			p.Version, p.Rejections = d.Version, d.Rejections
			addConfig(p, d)
		}
	}
	if s.Endpoints != nil {
		p.HasEndpoints = true
		addHealth(p, s.Endpoints())
	}
	if s.Status != nil {
		if st, ok := s.Status().([]translate.ObjectStatus); ok {
			for _, o := range st {
				p.Objects = append(p.Objects, objectStatusRow(o))
			}
		}
	}
	if s.Problems != nil {
		if ps, ok := s.Problems().([]source.Problem); ok {
			p.Problems = ps
		}
	}
	if s.Proxies != nil {
		p.HasProxies = true
		p.Proxies = s.Proxies()
	}
	return p
}

// addConfig groups the dump's IR into the page's tables.
func addConfig(p *page, d proxy.Dump) {
	listeners := map[string][]listenerRow{}
	rulesPerListener := map[string]int{}
	routes := map[string]*routeRow{}
	var routeNames []string
	for _, e := range d.Resources {
		switch v := e.Resource.(type) {
		case *ir.Route:
			rr := routes[v.RouteName]
			if rr == nil {
				rr = &routeRow{Name: v.RouteName}
				routes[v.RouteName] = rr
				routeNames = append(routeNames, v.RouteName)
			}
			rr.Rules++
			for _, par := range v.Parents {
				rulesPerListener[par.Listener]++
				rr.Listeners = appendUnique(rr.Listeners, par.Listener)
			}
			for _, b := range v.Backends {
				name := b.Backend
				if b.Invalid != "" {
					name = "invalid: " + b.Invalid
				}
				rr.Backends = appendUnique(rr.Backends, name)
			}
		case *ir.Backend:
			br := backendRow{Name: v.Name}
			for _, port := range v.Ports {
				for _, ep := range port.Endpoints {
					br.Endpoints = append(br.Endpoints, endpointRow{Address: net.JoinHostPort(ep.Address, strconv.Itoa(int(ep.Port))), Ready: ep.Ready})
				}
			}
			p.Backends = append(p.Backends, br)
		case *ir.Policy:
			p.Policies = append(p.Policies, policyRowOf(v))
		}
	}
	for _, e := range d.Resources {
		if l, ok := e.Resource.(*ir.Listener); ok {
			listeners[l.Gateway] = append(listeners[l.Gateway], listenerRow{Name: l.Name, Bind: l.Bind,
				Hostname: l.Hostname, Protocol: string(l.Protocol), Rules: rulesPerListener[l.Name]})
		}
	}
	gws := make([]string, 0, len(listeners))
	for gw := range listeners {
		gws = append(gws, gw)
	}
	sort.Strings(gws)
	for _, gw := range gws {
		p.Gateways = append(p.Gateways, gatewayRow{Name: gw, Listeners: listeners[gw]})
	}
	sort.Strings(routeNames)
	for _, n := range routeNames {
		p.Routes = append(p.Routes, *routes[n])
	}
}

// addHealth overlays the balancer's endpoint state on the backend rows.
func addHealth(p *page, health []upstream.BackendHealth) {
	byBackend := make(map[string]map[string]upstream.EndpointHealth, len(health))
	for _, b := range health {
		eps := map[string]upstream.EndpointHealth{}
		for _, port := range b.Ports {
			for _, e := range port.Endpoints {
				eps[e.Address] = e
			}
		}
		byBackend[b.Name] = eps
	}
	for i := range p.Backends {
		eps := byBackend[p.Backends[i].Name]
		for j := range p.Backends[i].Endpoints {
			row := &p.Backends[i].Endpoints[j]
			if e, ok := eps[row.Address]; ok {
				row.Health, row.Ejected, row.Outstanding, row.Failures = true, e.Ejected, e.Outstanding, e.Failures
			}
		}
	}
}

func policyRowOf(v *ir.Policy) policyRow {
	row := policyRow{Name: v.Name}
	for _, t := range v.Targets {
		row.Targets = append(row.Targets, string(t.Kind)+" "+t.Name)
	}
	add := func(on bool, name string) {
		if on {
			row.Sections = append(row.Sections, name)
		}
	}
	add(v.Authorization != nil, "authorization")
	add(v.JWT != nil, "jwt")
	add(v.RequestHeaders != nil || v.ResponseHeaders != nil, "transformation")
	add(len(v.PreRouting) > 0, "pre-routing")
	add(v.AccessLog != nil, "access log")
	return row
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// objectStatusRow flattens an object's conditions (the object's own, its
// listeners', its parents' or ancestors') into "where: Type=Status (Reason)".
func objectStatusRow(o translate.ObjectStatus) objectRow {
	row := objectRow{Object: o.Key(), OK: true}
	add := func(where string, conds []metav1.Condition) {
		for _, c := range conds {
			s := fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Reason)
			if where != "" {
				s = where + ": " + s
			}
			row.Conditions = append(row.Conditions, s)
			if conditionBad(c) {
				row.OK = false
			}
		}
	}
	switch {
	case o.GatewayClass != nil:
		add("", o.GatewayClass.Conditions)
	case o.Gateway != nil:
		add("", o.Gateway.Conditions)
		for _, l := range o.Gateway.Listeners {
			add("listener "+string(l.Name), l.Conditions)
		}
	case o.ListenerSet != nil:
		add("", o.ListenerSet.Conditions)
		for _, l := range o.ListenerSet.Listeners {
			add("listener "+string(l.Name), l.Conditions)
		}
	case o.Route != nil:
		for _, par := range o.Route.Parents {
			add("parent "+string(par.ParentRef.Name), par.Conditions)
		}
	case o.TrafficPolicy != nil:
		for _, a := range o.TrafficPolicy.Ancestors {
			add("ancestor "+string(a.AncestorRef.Name), a.Conditions)
		}
	}
	return row
}

// conditionBad reports whether a condition says something is wrong: the
// negative-polarity types when True, every other type when False.
func conditionBad(c metav1.Condition) bool {
	switch c.Type {
	case "Conflicted", "PartiallyInvalid":
		return c.Status == metav1.ConditionTrue
	}
	return c.Status == metav1.ConditionFalse
}
