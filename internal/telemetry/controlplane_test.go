package telemetry

import (
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/source"
)

type recordingSink struct{ batches [][]source.Event }

func (r *recordingSink) Apply(events []source.Event) { r.batches = append(r.batches, events) }

// TestControlPlaneMetrics: the wrapped sink forwards and counts batches and
// events; the collector reports connected proxies, pushes and status; push
// latency is recorded per Gateway and result.
func TestControlPlaneMetrics(t *testing.T) {
	reg := NewRegistry()
	next := &recordingSink{}
	sink := NewTranslationMetrics(reg).WrapSink(next)
	sink.Apply([]source.Event{{Kind: source.KindGateway, Name: "a"}, {Kind: source.KindHTTPRoute, Name: "r"}})
	sink.Apply([]source.Event{{Kind: source.KindHTTPRoute, Name: "r"}})
	if len(next.batches) != 2 || len(next.batches[0]) != 2 {
		t.Fatalf("sink did not forward: %v", next.batches)
	}
	cm := NewControllerMetrics(reg, ControllerSources{
		Proxies: func() []xds.ProxyStatus {
			return []xds.ProxyStatus{
				{Gateway: "ns/a", Node: "p1", VersionAcked: 5, Responses: 3, BytesSent: 900},
				{Gateway: "ns/a", Node: "p2", VersionAcked: 4, Responses: 2, BytesSent: 700,
					Rejections: []ir.Rejection{{ID: ir.ID{Kind: ir.KindBind, Name: "x"}}}},
				{Gateway: "ns/b", Node: "p3", VersionAcked: 5, Responses: 1, BytesSent: 100},
			}
		},
		HubVersion:   func() uint64 { return 5 },
		StatusWrites: func() int64 { return 12 },
		StatusQueue:  func() int { return 3 },
	})
	cm.ObservePush(xds.Push{Gateway: "ns/a", Node: "p1", Latency: 2 * time.Millisecond})
	cm.ObservePush(xds.Push{Gateway: "ns/a", Node: "p2", Latency: 3 * time.Millisecond, Rejected: 1})

	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	samples := parseExposition(t, string(text))
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_translation_batches_total", nil, 2},
		{"gatehouse_translation_events_total", map[string]string{"kind": "HTTPRoute"}, 2},
		{"gatehouse_translation_duration_seconds_count", nil, 2},
		{"gatehouse_controller_config_version", nil, 5},
		{"gatehouse_controller_proxies_connected", map[string]string{"gateway": "ns/a"}, 2},
		{"gatehouse_controller_proxies_connected", map[string]string{"gateway": "ns/b"}, 1},
		{"gatehouse_controller_xds_pushes_total", map[string]string{"gateway": "ns/a", "node": "p1"}, 3},
		{"gatehouse_controller_xds_push_bytes_total", map[string]string{"gateway": "ns/a", "node": "p2"}, 700},
		{"gatehouse_controller_proxy_acked_version", map[string]string{"gateway": "ns/a", "node": "p2"}, 4},
		{"gatehouse_controller_xds_push_duration_seconds_count", map[string]string{"gateway": "ns/a", "result": "ack"}, 1},
		{"gatehouse_controller_xds_push_duration_seconds_count", map[string]string{"gateway": "ns/a", "result": "nack"}, 1},
		{"gatehouse_controller_status_writes_total", nil, 12},
		{"gatehouse_controller_status_queue_depth", nil, 3},
	}
	for _, c := range checks {
		got := find(samples, c.name, c.labels)
		if len(got) != 1 || got[0].value != c.want {
			t.Errorf("%s%v = %+v, want one sample = %v", c.name, c.labels, got, c.want)
		}
	}
}
