package telemetry

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an in-test OTLP/HTTP collector that keeps every span.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "unexpected "+r.URL.Path+" "+r.Header.Get("Content-Type"), http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func attrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		if iv, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
			m[kv.Key] = strconv.FormatInt(iv.IntValue, 10)
			continue
		}
		m[kv.Key] = kv.Value.GetStringValue()
	}
	return m
}

// spansByKind splits the received spans into server and client spans, in
// arrival order.
func (o *otlpReceiver) spansByKind() (server, client []*tracepb.Span) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.spans {
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = append(server, s)
		case tracepb.Span_SPAN_KIND_CLIENT:
			client = append(client, s)
		}
	}
	return server, client
}

// tracedRequests sends two requests through a proxy traced by tr (one with
// a caller's traceparent), flushes, and returns the traceparents the
// upstream received.
func tracedRequests(t *testing.T, tr *Tracer) []string {
	t.Helper()
	var mu sync.Mutex
	var upstreamParents []string
	obs := &countingObserver{inner: NewObserver(nil, nil, tr)}
	_, base := testProxy(t, obs, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamParents = append(upstreamParents, strings.Join(r.Header.Values("Traceparent"), "|"))
		mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	do(t, "GET", base+"/ok/a", "", "Traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	do(t, "GET", base+"/ok/b", "")
	obs.wait(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil { // flushes the batch
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return upstreamParents
}

const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

// TestTracingExportsSpansAndPropagates: a server span per request and a
// client span per upstream call arrive at an OTLP/HTTP receiver with route
// and backend attributes; the caller's trace is continued; the client span
// is the server span's child and the upstream receives a traceparent
// naming the client span.
func TestTracingExportsSpansAndPropagates(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	tr, err := NewTracer(TracingOptions{Endpoint: collector.URL})
	if err != nil {
		t.Fatal(err)
	}
	upstreamParents := tracedRequests(t, tr)
	server, client := recv.spansByKind()
	checkSpans(t, server, client, upstreamParents)
}

func checkSpans(t *testing.T, server, client []*tracepb.Span, upstreamParents []string) {
	t.Helper()
	if len(server) != 2 || len(client) != 2 {
		t.Fatalf("receiver got %d server and %d client spans, want 2 and 2", len(server), len(client))
	}
	// Client spans end first; pair them with their server span by parent.
	byID := map[string]*tracepb.Span{}
	for _, s := range server {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	for i, s := range server {
		a := attrs(s)
		if s.Name != "GET ns/web" {
			t.Errorf("server span %d: name %q", i, s.Name)
		}
		if a["gatehouse.route"] != "ns/web" || a["gatehouse.backend"] != "StaticBackend/ns/up" ||
			a["gatehouse.gateway"] != "ns/gw" || a["http.response.status_code"] != "200" || a["http.request.method"] != "GET" {
			t.Errorf("server span %d attributes: %v", i, a)
		}
		if s.EndTimeUnixNano <= s.StartTimeUnixNano {
			t.Errorf("server span %d has no duration", i)
		}
	}
	parents := map[string]bool{}
	for i, c := range client {
		parent := byID[hex.EncodeToString(c.ParentSpanId)]
		if parent == nil || !bytes.Equal(parent.TraceId, c.TraceId) {
			t.Fatalf("client span %d is not the child of a server span", i)
		}
		parents[hex.EncodeToString(c.ParentSpanId)] = true
		if a := attrs(c); a["gatehouse.backend"] != "StaticBackend/ns/up" || a["http.response.status_code"] != "200" {
			t.Errorf("client span %d attributes: %v", i, a)
		}
		if c.StartTimeUnixNano < parent.StartTimeUnixNano || c.EndTimeUnixNano > parent.EndTimeUnixNano {
			t.Errorf("client span %d is not inside its server span", i)
		}
		// The upstream saw exactly one traceparent: the client span's.
		want := "00-" + hex.EncodeToString(c.TraceId) + "-" + hex.EncodeToString(c.SpanId) + "-01"
		if !slices.Contains(upstreamParents, want) {
			t.Errorf("no upstream request carried %q (got %q)", want, upstreamParents)
		}
	}
	if len(parents) != 2 {
		t.Errorf("both client spans have the same parent")
	}
	first := server[0]
	if hex.EncodeToString(first.TraceId) != callerTrace || hex.EncodeToString(first.ParentSpanId) != callerSpan {
		t.Errorf("the caller's trace was not continued: trace %x parent %x", first.TraceId, first.ParentSpanId)
	}
	if second := server[1]; hex.EncodeToString(second.TraceId) == callerTrace || len(second.ParentSpanId) != 0 {
		t.Errorf("a request without traceparent must start a new trace: %x parent %x", second.TraceId, second.ParentSpanId)
	}
}

func TestOTLPURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:4318":                  "http://127.0.0.1:4318/v1/traces",
		"http://collector:4318":           "http://collector:4318/v1/traces",
		"https://c.example/custom/traces": "https://c.example/custom/traces",
	} {
		if got, err := otlpURL(in); err != nil || got != want {
			t.Errorf("otlpURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := otlpURL("ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
}
