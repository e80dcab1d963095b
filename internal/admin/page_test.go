package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/upstream"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// endpointItems returns the text of each endpoint list item of the page.
func endpointItems(page string) []string {
	var out []string
	for _, part := range strings.Split(page, `<li class="endpoint">`)[1:] {
		item, _, _ := strings.Cut(part, "</li>")
		out = append(out, strings.Join(strings.Fields(stripTags(item)), " "))
	}
	return out
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestPageShowsEndpointHealth: with the balancer's state available, each
// endpoint shows readiness, healthy or ejected, and requests in flight;
// /endpoints serves the same state as JSON.
func TestPageShowsEndpointHealth(t *testing.T) {
	dump := proxy.Dump{Version: 3, Resources: []proxy.DumpEntry{{
		ID: ir.ID{Kind: ir.KindBackend, Name: "Service/ns/web"},
		Resource: &ir.Backend{Name: "Service/ns/web", Ports: []ir.BackendPort{{Port: 80, Endpoints: []ir.Endpoint{
			{Address: "10.0.0.1", Port: 8080, Ready: true},
			{Address: "10.0.0.2", Port: 8080, Ready: true},
			{Address: "fd00::3", Port: 8080, Ready: false},
		}}}},
	}}}
	health := []upstream.BackendHealth{{Name: "Service/ns/web", Ports: []upstream.PortHealth{{Port: 80, Endpoints: []upstream.EndpointHealth{
		{Address: "10.0.0.1:8080", Ready: true, Outstanding: 2},
		{Address: "10.0.0.2:8080", Ready: true, Ejected: true, EjectedUntil: time.Unix(2e9, 0), Failures: 0},
		{Address: "[fd00::3]:8080", Ready: false, Failures: 1},
	}}}}}
	h := Handler(Sources{ConfigDump: func() any { return dump }, Endpoints: func() []upstream.BackendHealth { return health }})
	code, page := get(t, h, "/")
	if code != 200 {
		t.Fatalf("page: %d", code)
	}
	want := []string{
		"10.0.0.1:8080 ready healthy 2 in flight",
		"10.0.0.2:8080 ready ejected 0 in flight",
		"[fd00::3]:8080 not ready healthy 0 in flight, 1 consecutive failures",
	}
	got := endpointItems(page)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("endpoints on the page:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	code, body := get(t, h, "/endpoints")
	var decoded []upstream.BackendHealth
	if code != 200 || json.Unmarshal([]byte(body), &decoded) != nil || len(decoded) != 1 || !decoded[0].Ports[0].Endpoints[1].Ejected {
		t.Errorf("/endpoints: %d %s", code, body)
	}

	// Without the balancer's state (the controller), only readiness shows.
	h = Handler(Sources{ConfigDump: func() any { return dump }})
	_, page = get(t, h, "/")
	if got := endpointItems(page); len(got) != 3 || got[0] != "10.0.0.1:8080 ready" {
		t.Errorf("endpoints without health: %q", got)
	}
	if code, _ := get(t, h, "/endpoints"); code != http.StatusNotFound {
		t.Errorf("/endpoints without a source: %d, want 404", code)
	}
}
