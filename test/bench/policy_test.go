package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/standalone"
	"gatehouse.dev/gatehouse/internal/testkit"
)

// BenchmarkPolicyThroughput measures end-to-end requests per second through
// the standalone gateway (loopback client, keep-alive, 16 concurrent
// connections, a local upstream) for one route with no policy and with a
// TrafficPolicy of 20 CEL expressions (10 authorization requirements and 10
// request header transformations) on it. Compare the req/s of the two in
// the same run; the target is at most a 15% drop.
func BenchmarkPolicyThroughput(b *testing.B) {
	for _, n := range []int{0, 20} {
		b.Run(fmt.Sprintf("expressions=%d", n), func(b *testing.B) { benchPolicyThroughput(b, n) })
	}
}

func benchPolicyThroughput(b *testing.B, expressions int) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	upPort := up.Listener.Addr().(*net.TCPAddr).Port
	port := testkit.FreePort(b)
	dir := b.TempDir()
	cfg := gatewayAndBackend(port, upPort) + fmt.Sprintf(`---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: up, port: %d}]}]
`, upPort)
	if expressions > 0 {
		var require, set []string
		for i := 0; i < expressions/2; i++ {
			require = append(require, `'request.method == "GET" && request.path.startsWith("/api")'`)
			set = append(set, fmt.Sprintf(`{name: x-h%d, value: 'request.headers["user-agent"]'}`, i))
		}
		cfg += fmt.Sprintf(`---
apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: p, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  authorization: {require: [%s]}
  transformation: {request: {set: [%s]}}
`, strings.Join(require, ", "), strings.Join(set, ", "))
	}
	testkit.WriteFileAtomic(b, dir, "config.yaml", cfg)
	in, err := standalone.Start(context.Background(), standalone.Options{ConfigDir: dir, Debounce: 2 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = in.Stop(context.Background()) }()
	const conns = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/items", port)
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("User-Agent", "bench/1.0")
		resp, err := client.Do(req)
		if err != nil {
			return -1
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(5 * time.Second)
	for get() != 200 {
		if time.Now().After(deadline) {
			b.Fatal("route not served")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if get() != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d requests failed", failed.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
