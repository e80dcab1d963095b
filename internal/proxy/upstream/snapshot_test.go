package upstream

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// TestHealthSnapshot: the snapshot lists every endpoint with its readiness,
// and an endpoint that refuses connections shows as ejected once passive
// health checking has ejected it. Only the public API is used.
func TestHealthSnapshot(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer good.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr)
	ln.Close() // connections to it are refused from now on

	reg := NewRegistry(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), EjectAfter: 1})
	defer reg.CloseIdleConnections()
	ga := good.Listener.Addr().(*net.TCPAddr)
	if err := reg.Update(&ir.Backend{Name: "b", Ports: []ir.BackendPort{{Port: 80, Endpoints: []ir.Endpoint{
		{Address: ga.IP.String(), Port: int32(ga.Port), Ready: true},
		{Address: dead.IP.String(), Port: int32(dead.Port), Ready: true},
		{Address: "127.0.0.1", Port: 9, Ready: false},
	}}}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Update(&ir.Backend{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	before := reg.Health()
	if len(before) != 2 || before[0].Name != "a" || before[1].Name != "b" || len(before[1].Ports[0].Endpoints) != 3 {
		t.Fatalf("snapshot %+v", before)
	}
	for _, e := range before[1].Ports[0].Endpoints {
		if e.Ejected {
			t.Fatalf("%s ejected before any traffic", e.Address)
		}
	}
	if last := before[1].Ports[0].Endpoints[2]; last.Ready || last.Address != "127.0.0.1:9" {
		t.Errorf("not-ready endpoint listed as %+v", last)
	}
	// Until the dead endpoint has been picked (and ejected) once.
	for i := 0; i < 50; i++ {
		rec := httptest.NewRecorder()
		reg.Forward(rec, httptest.NewRequest("GET", "http://x/", nil), Target{Backend: "b", Port: 80})
		if rec.Code >= 500 {
			break
		}
	}
	var deadState, goodState *EndpointHealth
	after := reg.Health()
	for i, e := range after[1].Ports[0].Endpoints {
		switch e.Address {
		case dead.String():
			deadState = &after[1].Ports[0].Endpoints[i]
		case ga.String():
			goodState = &after[1].Ports[0].Endpoints[i]
		}
	}
	if deadState == nil || !deadState.Ejected || deadState.EjectedUntil.IsZero() {
		t.Errorf("refusing endpoint: %+v, want ejected", deadState)
	}
	if goodState == nil || goodState.Ejected || goodState.Outstanding != 0 {
		t.Errorf("healthy endpoint: %+v", goodState)
	}
}
