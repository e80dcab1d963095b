// Package bench holds the benchmarks behind the numbers in
// docs/benchmarks.md. Run them with ./test/bench/run.sh (or `make bench`).
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/standalone"
	"gatehouse.dev/gatehouse/internal/testkit"
)

// gatewayAndBackend is our GatewayClass, a Gateway "gw" with one HTTP
// listener on 127.0.0.1:port and a StaticBackend "up" at 127.0.0.1:upPort.
func gatewayAndBackend(port, upPort int) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatehouse}
spec: {controllerName: gatehouse.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gatehouse
  addresses: [{type: IPAddress, value: 127.0.0.1}]
  listeners: [{name: http, port: %d, protocol: HTTP}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: up, namespace: default}
spec: {endpoints: ["127.0.0.1:%d"]}
`, port, upPort)
}

func route(name string, backendPort int) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %[1]s, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [%[1]s.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Route, value: %[1]s}]}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: up, port: %[2]d}]
  - matches: [{path: {type: PathPrefix, value: /missing}}]
    backendRefs: [{name: missing, port: 80}]
`, name, backendPort)
}

// BenchmarkPropagation measures the time from writing a new route's file to
// the first 200 from that route, with routes=N routes already served (each
// with its own hostname, like gateway-api-bench's propagation test). Polling
// is every 100us; any status other than 404 or 200 while waiting is an error.
func BenchmarkPropagation(b *testing.B) {
	for _, n := range []int{1, 1000, 5000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) { benchPropagation(b, n) })
	}
}

func benchPropagation(b *testing.B, n int) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	upPort := up.Listener.Addr().(*net.TCPAddr).Port
	dir := b.TempDir()
	port := testkit.FreePort(b)
	testkit.WriteFileAtomic(b, dir, "gateway.yaml", gatewayAndBackend(port, upPort))
	var base strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			base.WriteString("---\n")
		}
		base.WriteString(route(fmt.Sprintf("base%d", i), upPort))
	}
	testkit.WriteFileAtomic(b, dir, "base.yaml", base.String())
	in, err := standalone.Start(context.Background(), standalone.Options{ConfigDir: dir, Debounce: 2 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = in.Stop(context.Background()) }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(host string) int {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return -1
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(fmt.Sprintf("base%d.example.com", n-1)); code != 200 {
		b.Fatalf("base route not served: %d", code)
	}
	var lat []time.Duration
	errors := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("new%d", i)
		start := time.Now()
		testkit.WriteFileAtomic(b, dir, name+".yaml", route(name, upPort))
		for {
			code := get(name + ".example.com")
			if code == 200 {
				break
			}
			if code != 404 {
				errors++
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("route %s not served after 10s", name)
			}
			time.Sleep(100 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(errors), "errors")
}
