package e2e

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcHealthBackend starts a gRPC server on 127.0.0.1 whose health service
// reports st for the service "app": the status tells which backend answered.
func grpcHealthBackend(t *testing.T, st healthpb.HealthCheckResponse_ServingStatus) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("app", st)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().(*net.TCPAddr).Port
}

func h2cBackend(name string, port int) string {
	return fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: %s, namespace: default}
spec: {endpoints: ["127.0.0.1:%d"], protocol: H2C}
`, name, port)
}

// grpcRoute sends Health/Check with header "x-pick: b" to backend b, any
// other Health/Check to a; it adds a response header. Health/Watch matches
// no rule. An HTTPRoute of the same name on the same hostname serves /web.
const grpcRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.example.com]
  rules:
  - matches:
    - method: {service: grpc.health.v1.Health, method: Check}
      headers: [{name: x-pick, value: b}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: b}]
  - matches:
    - method: {service: grpc.health.v1.Health, method: Check}
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: x-gateway, value: gatehouse}]}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /web}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: web}]
`

// TestGRPCRouteEndToEnd runs a real gRPC client through the gateway (h2c
// with prior knowledge on an HTTP listener) to real gRPC servers.
func TestGRPCRouteEndToEnd(t *testing.T) {
	portA := grpcHealthBackend(t, healthpb.HealthCheckResponse_SERVING)
	portB := grpcHealthBackend(t, healthpb.HealthCheckResponse_NOT_SERVING)
	webHost, webPort := upstream(t, "web")
	g := startGateway(t, map[string]string{
		"backends.yaml": h2cBackend("a", portA) + "---\n" + h2cBackend("b", portB) + "---\n" + staticBackend("web", webHost, webPort),
		"route.yaml":    grpcRoute,
	})
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", g.port),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("grpc.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	check := func(md ...string) (healthpb.HealthCheckResponse_ServingStatus, metadata.MD, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
		var hdr metadata.MD
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "app"}, grpc.Header(&hdr))
		if err != nil {
			return 0, hdr, err
		}
		return resp.Status, hdr, nil
	}
	eventually(t, "the GRPCRoute to serve", func() bool { _, _, err := check(); return err == nil })

	st, hdr, err := check()
	if err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check without x-pick = %v, %v; want SERVING from backend a", st, err)
	}
	if got := hdr.Get("x-gateway"); len(got) != 1 || got[0] != "gatehouse" {
		t.Fatalf("response header x-gateway = %v, want [gatehouse] (ResponseHeaderModifier)", got)
	}
	st, hdr, err = check("x-pick", "b")
	if err != nil || st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Check with x-pick: b = %v, %v; want NOT_SERVING from backend b", st, err)
	}
	if got := hdr.Get("x-gateway"); len(got) != 0 {
		t.Fatalf("rule b has no filter but x-gateway = %v", got)
	}

	// A method no rule matches: the gateway answers 404, which gRPC
	// clients see as Unimplemented.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "app"})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("Watch (no matching rule) = %v, want code Unimplemented", err)
	}

	// The HTTPRoute of the same name and hostname keeps serving plain HTTP.
	resp, _ := g.get("/web/x", "grpc.example.com")
	if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "web" {
		t.Fatalf("HTTPRoute beside the GRPCRoute: status %d upstream %q", resp.StatusCode, resp.Header.Get("X-Upstream"))
	}
}

// grpcPrecedence lists its rules from the least to the most specific, so
// that rule order cannot explain a right answer. On precedence.example.com:
// Check alone -> b, the Health service with header x-pick: c -> c, the exact
// Health/Check -> a. On service.example.com: Check alone -> b, the Health
// service -> a.
const grpcPrecedence = `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: precedence, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [precedence.example.com]
  rules:
  - matches: [{method: {method: Check}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: b}]
  - matches: [{method: {service: grpc.health.v1.Health}, headers: [{name: x-pick, value: c}]}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: c}]
  - matches: [{method: {service: grpc.health.v1.Health, method: Check}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: service-over-method, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [service.example.com]
  rules:
  - matches: [{method: {method: Check}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: b}]
  - matches: [{method: {service: grpc.health.v1.Health}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a}]
`

// TestGRPCRouteMatchPrecedence checks the GRPCRoute spec's precedence
// among matching rules: more characters of service first, then of method,
// then more header matches.
func TestGRPCRouteMatchPrecedence(t *testing.T) {
	portA := grpcHealthBackend(t, healthpb.HealthCheckResponse_SERVING)
	portB := grpcHealthBackend(t, healthpb.HealthCheckResponse_NOT_SERVING)
	portC := grpcHealthBackend(t, healthpb.HealthCheckResponse_SERVICE_UNKNOWN)
	g := startGateway(t, map[string]string{
		"backends.yaml": h2cBackend("a", portA) + "---\n" + h2cBackend("b", portB) + "---\n" + h2cBackend("c", portC),
		"route.yaml":    grpcPrecedence,
	})
	client := func(authority string) healthpb.HealthClient {
		conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", g.port),
			grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(authority))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return healthpb.NewHealthClient(conn)
	}
	check := func(hc healthpb.HealthClient, md ...string) (healthpb.HealthCheckResponse_ServingStatus, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := hc.Check(metadata.AppendToOutgoingContext(ctx, md...), &healthpb.HealthCheckRequest{Service: "app"})
		if err != nil {
			return 0, err
		}
		return resp.Status, nil
	}
	watch := func(hc healthpb.HealthClient, md ...string) (healthpb.HealthCheckResponse_ServingStatus, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := hc.Watch(metadata.AppendToOutgoingContext(ctx, md...), &healthpb.HealthCheckRequest{Service: "app"})
		if err != nil {
			return 0, err
		}
		resp, err := stream.Recv()
		if err != nil {
			return 0, err
		}
		return resp.Status, nil
	}
	p, s := client("precedence.example.com"), client("service.example.com")
	eventually(t, "the GRPCRoutes to serve", func() bool { _, err := check(p); _, err2 := check(s); return err == nil && err2 == nil })
	serving, unknown := healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	for _, tc := range []struct {
		name string
		call func() (healthpb.HealthCheckResponse_ServingStatus, error)
		want healthpb.HealthCheckResponse_ServingStatus
	}{
		{"exact service and method over method alone", func() (healthpb.HealthCheckResponse_ServingStatus, error) { return check(p) }, serving},
		{"method characters over header matches", func() (healthpb.HealthCheckResponse_ServingStatus, error) { return check(p, "x-pick", "c") }, serving},
		{"service with header, the only match", func() (healthpb.HealthCheckResponse_ServingStatus, error) { return watch(p, "x-pick", "c") }, unknown},
		{"service characters over method characters", func() (healthpb.HealthCheckResponse_ServingStatus, error) { return check(s) }, serving},
	} {
		if got, err := tc.call(); err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := watch(p); status.Code(err) != codes.Unimplemented {
		t.Errorf("Watch without the header matches no rule: %v, want Unimplemented", err)
	}
}
