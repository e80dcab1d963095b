package telemetry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
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

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

var okUpstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })

// TestAccessLogBuiltinFields: every built-in field appears with the
// request's values; a hostile header stays inside its JSON string.
func TestAccessLogBuiltinFields(t *testing.T) {
	out := &lockedBuffer{}
	l, err := NewAccessLog(AccessLogOptions{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	obs := &countingObserver{inner: NewObserver(nil, l, nil)}
	_, base := testProxy(t, obs, okUpstream)
	do(t, "POST", base+"/ok/x?q=1", "abc", "User-Agent", "ua\"\\<x>", "X-Request-Id", "rid-1")
	obs.wait(t, 1)
	lines := out.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1", len(lines))
	}
	line := lines[0]
	want := map[string]any{"method": "POST", "path": "/ok/x", "status": float64(200), "bytes_sent": float64(2),
		"bytes_received": float64(3), "gateway": "ns/gw", "listener": "ns/gw/http", "route": "ns/web", "rule": "ns/web/0",
		"backend": "StaticBackend/ns/up", "user_agent": "ua\"\\<x>", "request_id": "rid-1", "protocol": "HTTP/1.1"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %#v, want %#v", k, line[k], v)
		}
	}
	for _, k := range []string{"time", "duration_ms", "client_address", "host"} {
		if line[k] == nil {
			t.Errorf("field %s missing: %v", k, line)
		}
	}
	if _, has := line["trace_id"]; has {
		t.Errorf("trace_id must be omitted without tracing")
	}
}

// TestAccessLogCELFieldsAndFilter: selected built-ins plus CEL fields; the
// filter keeps only errors.
func TestAccessLogCELFieldsAndFilter(t *testing.T) {
	out := &lockedBuffer{}
	l, err := NewAccessLog(AccessLogOptions{Output: out,
		Fields: []string{"status", "path", `tenant=default(request.headers["x-tenant"], "none")`, "big=response.code >= 500"},
		Filter: "response.code >= 400"})
	if err != nil {
		t.Fatal(err)
	}
	obs := &countingObserver{inner: NewObserver(nil, l, nil)}
	_, base := testProxy(t, obs, okUpstream)
	do(t, "GET", base+"/ok", "", "X-Tenant", "acme")
	do(t, "GET", base+"/missing", "", "X-Tenant", "acme")
	do(t, "GET", base+"/nothing", "")
	obs.wait(t, 3)
	lines := out.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (the 200 is filtered out): %v", len(lines), lines)
	}
	if l0 := lines[0]; l0["tenant"] != "acme" || l0["status"] != float64(404) || l0["big"] != false || len(l0) != 4 {
		t.Errorf("line 0: %v", l0)
	}
	if lines[1]["tenant"] != "none" || lines[1]["path"] != "/nothing" {
		t.Errorf("line 1: %v", lines[1])
	}
}

// TestAccessLogSampling: a sample of 0.25 logs roughly a quarter of
// requests (the bounds are loose enough never to flake: p < 1e-9).
func TestAccessLogSampling(t *testing.T) {
	out := &lockedBuffer{}
	l, err := NewAccessLog(AccessLogOptions{Output: out, Fields: []string{"status"}, Sample: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	obs := &countingObserver{inner: NewObserver(nil, l, nil)}
	_, base := testProxy(t, obs, okUpstream)
	const n = 400
	for i := 0; i < n; i++ {
		do(t, "GET", base+"/ok", "")
	}
	obs.wait(t, n)
	if got := len(out.lines(t)); got < 40 || got > 170 {
		t.Errorf("%d of %d requests logged at sample 0.25", got, n)
	}
}

func TestAccessLogConfigErrors(t *testing.T) {
	for _, o := range []AccessLogOptions{
		{Fields: []string{"nope"}},
		{Fields: []string{"x=request.nope"}},
		{Fields: []string{"=request.path"}},
		{Filter: "request.path"}, // not a bool
		{Sample: 2},
	} {
		o.Output = &lockedBuffer{}
		if _, err := NewAccessLog(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\slash", "ctl\x00\x1f\n\t", "<html>&", "bad\xffutf8", "ünïcode ✓"} {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got != want {
			t.Errorf("round trip %q = %q", want, got)
		}
	}
}
