package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/llm"
)

// The body-routing benchmarks send the same 2 KB chat request through the
// gateway on loopback, to a local upstream, routed three ways:
//
//	header   the client sends X-Gateway-Model-Name itself (baseline: no body work)
//	body     the gateway reads the model from the JSON body inline (pre-routing)
//	extproc  the gateway sends the body to a separate local gRPC service that
//	         returns the header (the external-processor design), then routes
//	         on the header
//
// Each reports ns/op, allocs/op, process CPU per request (cpu-ns/op: client,
// gateway and upstream together, from getrusage), req/s and p50/p99 latency
// of a short parallel load, and for body and extproc the ratio of their CPU
// per request to header's measured in the same run (x-header-cpu).

const modelHeader = "X-Gateway-Model-Name"

// chatBody2K is a 2048-byte chat completion request.
var chatBody2K = func() []byte {
	head := `{"model":"gpt-b","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"`
	tail := `"}],"temperature":0.2,"stream":false}`
	return []byte(head + strings.Repeat("lorem ipsum ", (2048-len(head)-len(tail))/12) +
		strings.Repeat("x", (2048-len(head)-len(tail))%12) + tail)
}()

// benchGateway is a proxy serving header-routed rules on a loopback
// http.Server, in front of one upstream.
type benchGateway struct {
	url    string
	client *http.Client
}

func startBenchGateway(b *testing.B, mode string) *benchGateway {
	b.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","model":"`+r.Header.Get(modelHeader)+`"}`)
	}))
	b.Cleanup(up.Close)
	a := up.Listener.Addr().(*net.TCPAddr)
	p := New(Options{Logger: quietLogger()})
	res := []ir.Resource{
		&ir.Listener{Name: "ns/gw/http", Gateway: "ns/gw", Bind: "b", Protocol: ir.ProtocolHTTP},
		&ir.Backend{Name: "up", Ports: []ir.BackendPort{{Port: 80, Protocol: ir.AppHTTP1,
			Endpoints: []ir.Endpoint{{Address: a.IP.String(), Port: int32(a.Port), Ready: true}}}}},
	}
	for i, m := range []string{"gpt-a", "gpt-b", "gpt-c"} {
		res = append(res, &ir.Route{Name: fmt.Sprintf("ns/r/%d", i), RouteName: "ns/r", RuleIndex: i,
			Parents: []ir.RouteParent{{Listener: "ns/gw/http"}},
			Matches: []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"},
				Headers: []ir.ValueMatch{{Name: modelHeader, Value: m}}}},
			Backends: []ir.BackendRef{{Backend: "up", Port: 80, Weight: 1}}})
	}
	if mode == "body" {
		res = append(res, &ir.Policy{Name: "ns/llm", Targets: []ir.PolicyTarget{{Kind: ir.TargetGateway, Name: "ns/gw"}},
			Gateways: []string{"ns/gw"}, PreRoutingBody: &ir.PreRoutingBody{ModelHeader: modelHeader}})
	}
	if rej := p.Apply(ir.Delta{Version: 1, Upserts: res}); len(rej) != 0 {
		b.Fatal(rej)
	}
	var h http.Handler = &bindHandler{p: p, bind: "b", port: 80, scheme: "http"}
	if mode == "extproc" {
		h = newExtProcClient(b, h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return &benchGateway{url: "http://" + ln.Addr().String() + "/v1/chat/completions",
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}}
}

func (g *benchGateway) do(mode string) error {
	req, _ := http.NewRequest(http.MethodPost, g.url, bytes.NewReader(chatBody2K))
	req.Header.Set("Content-Type", "application/json")
	if mode == "header" {
		req.Header.Set(modelHeader, "gpt-b")
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"gpt-b"`)) {
		return fmt.Errorf("status %d body %s", resp.StatusCode, body)
	}
	return nil
}

// extProcService is the external processor: one unary RPC that receives
// the body and returns the model (as an ext_proc server would return a
// header mutation).
const extProcMethod = "/gatehouse.bench.ExtProc/Route"

type extProcServer interface {
	route(context.Context, *wrapperspb.BytesValue) (*wrapperspb.StringValue, error)
}

type extProcImpl struct{}

func (extProcImpl) route(_ context.Context, in *wrapperspb.BytesValue) (*wrapperspb.StringValue, error) {
	f, err := llm.ScanModel(in.Value)
	if err != nil {
		return &wrapperspb.StringValue{}, nil
	}
	return &wrapperspb.StringValue{Value: f.Model}, nil
}

var extProcDesc = grpc.ServiceDesc{
	ServiceName: "gatehouse.bench.ExtProc",
	HandlerType: (*extProcServer)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Route", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		in := new(wrapperspb.BytesValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		return srv.(extProcServer).route(ctx, in)
	}}},
}

// extProcClient is the gateway side of the external-processor design: it
// buffers the body, calls the processor, sets the header it returns (or
// removes it) and hands the request to the header-routing gateway.
type extProcClient struct {
	next http.Handler
	conn *grpc.ClientConn
}

func newExtProcClient(b *testing.B, next http.Handler) *extProcClient {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer()
	gs.RegisterService(&extProcDesc, extProcImpl{})
	go func() { _ = gs.Serve(ln) }()
	b.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return &extProcClient{next: next, conn: conn}
}

func (e *extProcClient) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := llm.ReadBody(r, 2<<20)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	delete(r.Header, modelHeader)
	if body.State == llm.BodyComplete {
		out := new(wrapperspb.StringValue)
		if err := e.conn.Invoke(r.Context(), extProcMethod, wrapperspb.Bytes(body.Decoded), out); err == nil && out.Value != "" {
			r.Header[modelHeader] = []string{out.Value}
		}
	}
	e.next.ServeHTTP(w, r)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baselineCPU holds header's CPU per request of the current run.
var baselineCPU float64

// BenchmarkBodyRouting: see the comment at the top of the file.
//
//	go test ./internal/proxy -run '^$' -bench BodyRouting -benchtime 3s
func BenchmarkBodyRouting(b *testing.B) {
	for _, mode := range []string{"header", "body", "extproc"} {
		b.Run(mode, func(b *testing.B) {
			g := startBenchGateway(b, mode)
			if err := g.do(mode); err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(4)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, t0 := processCPU(), time.Now()
			b.RunParallel(func(pb *testing.PB) {
				local := make([]time.Duration, 0, 1024)
				for pb.Next() {
					s := time.Now()
					if err := g.do(mode); err != nil {
						b.Error(err)
						return
					}
					local = append(local, time.Since(s))
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			})
			elapsed, cpu := time.Since(t0), processCPU()-cpu0
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) == 0 {
				return
			}
			cpuPerReq := float64(cpu.Nanoseconds()) / float64(len(lat))
			b.ReportMetric(cpuPerReq, "cpu-ns/op")
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
			if mode == "header" {
				baselineCPU = cpuPerReq
			} else if baselineCPU > 0 {
				b.ReportMetric(cpuPerReq/baselineCPU, "x-header-cpu")
			}
		})
	}
}

// BenchmarkPreRoutingModel isolates the gateway's own work before routing:
// the handler serves a redirect (no upstream I/O), with the model in a
// header (baseline) or read from the 2 KB body by the pre-routing shorthand.
func BenchmarkPreRoutingModel(b *testing.B) {
	for _, mode := range []string{"header", "body"} {
		b.Run(mode, func(b *testing.B) {
			p := New(Options{Logger: quietLogger()})
			res := []ir.Resource{&ir.Listener{Name: "ns/gw/http", Gateway: "ns/gw", Bind: "b", Protocol: ir.ProtocolHTTP},
				&ir.Route{Name: "ns/r/0", RouteName: "ns/r", Parents: []ir.RouteParent{{Listener: "ns/gw/http"}},
					Matches: []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}, Headers: []ir.ValueMatch{{Name: modelHeader, Value: "gpt-b"}}}},
					Filters: []ir.Filter{{Type: ir.FilterRedirect, Redirect: &ir.Redirect{Hostname: "example.com", StatusCode: 302}}}}}
			if mode == "body" {
				res = append(res, &ir.Policy{Name: "ns/llm", Targets: []ir.PolicyTarget{{Kind: ir.TargetGateway, Name: "ns/gw"}},
					Gateways: []string{"ns/gw"}, PreRoutingBody: &ir.PreRoutingBody{ModelHeader: modelHeader}})
			}
			if rej := p.Apply(ir.Delta{Version: 1, Upserts: res}); len(rej) != 0 {
				b.Fatal(rej)
			}
			h := &bindHandler{p: p, bind: "b", port: 80, scheme: "http"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest(http.MethodPost, "http://example.com/v1/chat/completions", bytes.NewReader(chatBody2K))
				if mode == "header" {
					r.Header.Set(modelHeader, "gpt-b")
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusFound {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
