package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPolicyAccessLog: a TrafficPolicy access-log section writes one JSON
// line per request with its CEL fields, only when its filter holds.
func TestPolicyAccessLog(t *testing.T) {
	out := &lockedBuffer{}
	p := New(Options{Logger: quietLogger(), AccessLog: out})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	}()
	ok := routeTo("ns/r/0", "/ok", "a")
	ok.RouteName = "ns/r"
	bad := routeTo("ns/r/1", "/bad", "a")
	bad.RouteName, bad.RuleIndex = "ns/r", 1
	bad.Backends = []ir.BackendRef{{Invalid: "missing", Weight: 1}}
	p.Apply(ir.Delta{Version: 1, Upserts: []ir.Resource{
		&ir.Bind{Name: "127.0.0.1:0", Address: "127.0.0.1", Protocol: ir.ProtocolHTTP},
		&ir.Listener{Name: "gw/http", Gateway: "ns/gw", Bind: "127.0.0.1:0", Protocol: ir.ProtocolHTTP},
		upstreamBackend(t, "a"), ok, bad,
		&ir.Policy{Name: "ns/log", Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
			AccessLog: &ir.PolicyAccessLog{Filter: "response.code >= 400", Fields: []ir.CELHeader{
				{Name: "method", Expr: "request.method"}, {Name: "status", Expr: "response.code"},
				{Name: "route", Expr: "route"}, {Name: "missing", Expr: `request.headers["nope"]`}}}},
	}})
	base := "http://" + p.Listeners().Addr("127.0.0.1:0").String()
	get(t, base+"/ok")
	get(t, base+"/bad")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want 1 line (the filter keeps only errors), got %q", out.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line["method"] != "GET" || line["status"] != float64(500) || line["route"] != "ns/r" || line["time"] == nil {
		t.Errorf("line %v", line)
	}
	if _, has := line["missing"]; has {
		t.Errorf("a failing field must be omitted: %v", line)
	}
}
