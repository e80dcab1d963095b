package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

type recordingObserver struct {
	mu    sync.Mutex
	infos []RequestInfo
}

func (o *recordingObserver) Begin(r *http.Request) *http.Request { return r }
func (o *recordingObserver) End(info *RequestInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	cp := *info
	cp.Request = nil
	o.infos = append(o.infos, cp)
}

func TestObserverSeesEveryRequest(t *testing.T) {
	obs := &recordingObserver{}
	p := New(Options{Logger: quietLogger(), Observer: obs})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	}()
	p.Apply(ir.Delta{Version: 1, Upserts: []ir.Resource{
		&ir.Bind{Name: "127.0.0.1:0", Address: "127.0.0.1", Protocol: ir.ProtocolHTTP},
		&ir.Listener{Name: "gw/http", Gateway: "ns/gw", Bind: "127.0.0.1:0", Protocol: ir.ProtocolHTTP},
		upstreamBackend(t, "a"), routeTo("r", "/ok", "a"),
	}})
	base := "http://" + p.Listeners().Addr("127.0.0.1:0").String()
	get(t, base+"/ok")
	get(t, base+"/missing")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.infos) != 2 {
		t.Fatalf("observer saw %d requests, want 2", len(obs.infos))
	}
	ok, missing := obs.infos[0], obs.infos[1]
	if ok.Status != 200 || ok.Route != "r" || ok.Backend != "a" || ok.Gateway != "ns/gw" || ok.BytesWritten != 1 || ok.Duration <= 0 {
		t.Errorf("routed request: %+v", ok)
	}
	if missing.Status != 404 || missing.Route != "" || missing.Listener != "gw/http" {
		t.Errorf("unrouted request: %+v", missing)
	}
}

// wrappingWriter stands for the writers policies and LLM usage put around
// the observed one.
type wrappingWriter struct{ http.ResponseWriter }

func (w wrappingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestStatusWrittenThroughWrappers: the upstream span gets the status the
// client received even when a response body replacement or LLM usage
// writer wraps the observed writer.
func TestStatusWrittenThroughWrappers(t *testing.T) {
	ow := &observedWriter{ResponseWriter: httptest.NewRecorder()}
	ow.WriteHeader(http.StatusTeapot)
	for name, w := range map[string]http.ResponseWriter{
		"observed": ow, "wrapped once": wrappingWriter{ow}, "wrapped twice": wrappingWriter{wrappingWriter{ow}},
	} {
		if got := statusWritten(w); got != http.StatusTeapot {
			t.Errorf("%s: statusWritten = %d, want %d", name, got, http.StatusTeapot)
		}
	}
	if got := statusWritten(wrappingWriter{httptest.NewRecorder()}); got != 0 {
		t.Errorf("no observed writer: statusWritten = %d, want 0", got)
	}
}
