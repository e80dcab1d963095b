package telemetry

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// TestProxyMetricsScrape sends real requests through a proxy, scrapes
// /metrics in the OpenMetrics format and checks names, labels and values.
func TestProxyMetricsScrape(t *testing.T) {
	reg := NewRegistry()
	m := NewProxyMetrics(reg)
	obs := &countingObserver{inner: NewObserver(m, nil, nil)}
	_, base := testProxy(t, obs, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write([]byte("hello" + string(body)))
	}))
	m.ConfigApplied(7, []ir.Rejection{{ID: ir.ID{Kind: ir.KindRoute, Name: "ns/bad/0"}, Reason: "x"}})
	for i := 0; i < 3; i++ {
		if code, _ := do(t, "GET", base+"/ok", ""); code != 200 {
			t.Fatalf("GET /ok: %d", code)
		}
	}
	if code, body := do(t, "POST", base+"/ok", "12345678"); code != 200 || body != "hello12345678" {
		t.Fatalf("POST /ok: %d %q", code, body)
	}
	if code, _ := do(t, "GET", base+"/missing", ""); code != 404 {
		t.Fatalf("GET /missing: %d", code)
	}
	if code, _ := do(t, "GET", base+"/dead", ""); code < 500 {
		t.Fatalf("GET /dead: %d, want 5xx", code)
	}
	obs.wait(t, 6)

	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("content type %q, want OpenMetrics", ct)
	}
	if !strings.HasSuffix(string(text), "# EOF\n") {
		t.Errorf("OpenMetrics exposition must end with # EOF")
	}
	samples := parseExposition(t, string(text))
	ok := map[string]string{"gateway": "ns/gw", "listener": "ns/gw/http", "route": "ns/web",
		"backend": "StaticBackend/ns/up", "code_class": "2xx"}

	// OpenMetrics names counters' samples with the _total suffix.
	if got := find(samples, "gatehouse_proxy_requests_total", ok); len(got) != 1 || got[0].value != 4 {
		t.Errorf("2xx requests: %+v, want one series = 4", got)
	}
	notFound := map[string]string{"gateway": "ns/gw", "listener": "ns/gw/http", "route": "", "backend": "", "code_class": "4xx"}
	if got := find(samples, "gatehouse_proxy_requests_total", notFound); len(got) != 1 || got[0].value != 1 {
		t.Errorf("404 requests: %+v", got)
	}
	dead := map[string]string{"route": "ns/web", "backend": "StaticBackend/ns/dead", "code_class": "5xx"}
	if got := find(samples, "gatehouse_proxy_requests_total", dead); len(got) != 1 || got[0].value != 1 {
		t.Errorf("5xx requests: %+v", got)
	}
	if got := find(samples, "gatehouse_proxy_upstream_connect_errors_total",
		map[string]string{"route": "ns/web", "backend": "StaticBackend/ns/dead"}); len(got) != 1 || got[0].value < 1 {
		t.Errorf("connect errors: %+v", got)
	}
	if got := find(samples, "gatehouse_proxy_upstream_connections_opened_total",
		map[string]string{"backend": "StaticBackend/ns/up"}); len(got) != 1 || got[0].value < 1 || got[0].value > 4 {
		t.Errorf("upstream connections opened: %+v (keep-alive: at most one per request)", got)
	}
	if got := find(samples, "gatehouse_proxy_request_duration_seconds_count", ok); len(got) != 1 || got[0].value != 4 {
		t.Errorf("duration count: %+v", got)
	}
	inf := map[string]string{"le": "+Inf"}
	for k, v := range ok {
		inf[k] = v
	}
	if got := find(samples, "gatehouse_proxy_request_duration_seconds_bucket", inf); len(got) != 1 || got[0].value != 4 {
		t.Errorf("duration +Inf bucket: %+v", got)
	}
	if got := find(samples, "gatehouse_proxy_response_size_bytes_sum", ok); len(got) != 1 || got[0].value != 3*5+13 {
		t.Errorf("response bytes: %+v, want %d", got, 3*5+13)
	}
	if got := find(samples, "gatehouse_proxy_request_size_bytes_sum", ok); len(got) != 1 || got[0].value != 8 {
		t.Errorf("request bytes: %+v, want 8", got)
	}
	if got := find(samples, "gatehouse_proxy_requests_active", nil); len(got) != 1 || got[0].value != 0 {
		t.Errorf("active requests after all finished: %+v", got)
	}
	if got := find(samples, "gatehouse_proxy_config_version", nil); len(got) != 1 || got[0].value != 7 {
		t.Errorf("config version: %+v", got)
	}
	if got := find(samples, "gatehouse_proxy_config_rejections_total", map[string]string{"kind": "Route"}); len(got) != 1 || got[0].value != 1 {
		t.Errorf("rejections: %+v", got)
	}
	// Bounded cardinality: no label carries the path or an endpoint address.
	for _, s := range samples {
		for k, v := range s.labels {
			if strings.Contains(v, "/ok") || strings.Contains(v, "/missing") || strings.Contains(v, "127.0.0.1") {
				t.Errorf("%s has a high-cardinality label %s=%q", s.name, k, v)
			}
		}
	}
	// Every metric in the exposition that we own is declared in the catalog.
	declared := map[string]bool{}
	for _, s := range append(ProxySpecs(), ControlPlaneSpecs()...) {
		declared[s.Name] = true
	}
	for _, s := range samples {
		if !strings.HasPrefix(s.name, "gatehouse_") {
			continue
		}
		base := s.name
		for _, suf := range []string{"_bucket", "_sum", "_count", "_created"} {
			base = strings.TrimSuffix(base, suf)
		}
		if !declared[base] {
			t.Errorf("metric %s is not declared in the catalog", s.name)
		}
	}
}

func TestRouteLabel(t *testing.T) {
	for in, want := range map[string]string{"ns/web/0": "ns/web", "ns/web/12": "ns/web", "r": "r", "": ""} {
		if got := routeLabel(in); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
