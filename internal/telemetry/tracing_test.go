package telemetry

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
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

// TestTracingExportsSpansAndPropagates: a span per request arrives at an
// OTLP receiver with route and backend attributes; the caller's trace is
// continued and the upstream receives a traceparent naming our span.
func TestTracingExportsSpansAndPropagates(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	tr, err := NewTracer(TracingOptions{Endpoint: collector.URL})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var upstreamParents []string
	obs := &countingObserver{inner: NewObserver(nil, nil, tr)}
	_, base := testProxy(t, obs, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamParents = append(upstreamParents, strings.Join(r.Header.Values("Traceparent"), "|"))
		mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	do(t, "GET", base+"/ok/a", "", "Traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	do(t, "GET", base+"/ok/b", "")
	obs.wait(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil { // flushes the batch
		t.Fatal(err)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.spans) != 2 {
		t.Fatalf("receiver got %d spans, want 2", len(recv.spans))
	}
	mu.Lock()
	defer mu.Unlock()
	for i, s := range recv.spans {
		a := attrs(s)
		if s.Kind != tracepb.Span_SPAN_KIND_SERVER || s.Name != "GET ns/web" {
			t.Errorf("span %d: kind %v name %q", i, s.Kind, s.Name)
		}
		if a["gatehouse.route"] != "ns/web" || a["gatehouse.backend"] != "StaticBackend/ns/up" ||
			a["gatehouse.gateway"] != "ns/gw" || a["http.response.status_code"] != "200" || a["http.request.method"] != "GET" {
			t.Errorf("span %d attributes: %v", i, a)
		}
		traceID, spanID := hex.EncodeToString(s.TraceId), hex.EncodeToString(s.SpanId)
		// The upstream saw exactly one traceparent: ours, naming this span.
		if want := "00-" + traceID + "-" + spanID + "-01"; upstreamParents[i] != want {
			t.Errorf("upstream %d traceparent %q, want %q", i, upstreamParents[i], want)
		}
		if s.EndTimeUnixNano <= s.StartTimeUnixNano {
			t.Errorf("span %d has no duration", i)
		}
	}
	first := recv.spans[0]
	if hex.EncodeToString(first.TraceId) != callerTrace || hex.EncodeToString(first.ParentSpanId) != callerSpan {
		t.Errorf("the caller's trace was not continued: trace %x parent %x", first.TraceId, first.ParentSpanId)
	}
	if second := recv.spans[1]; hex.EncodeToString(second.TraceId) == callerTrace || len(second.ParentSpanId) != 0 {
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
