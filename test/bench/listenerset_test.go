package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/standalone"
	"gatehouse.dev/gatehouse/internal/testkit"
)

// tenantFile is one app team's namespace: a ListenerSet with one HTTPS
// listener and its own certificate, and routes attached to it.
func tenantFile(t testing.TB, name string, port, upPort, routes int) string {
	crt, key := selfSigned(t, name+".example.com")
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: %[1]s}
type: kubernetes.io/tls
data: {tls.crt: %[2]s, tls.key: %[3]s}
---
apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: up, namespace: %[1]s}
spec: {endpoints: ["127.0.0.1:%[5]d"]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: apps, namespace: %[1]s}
spec:
  parentRef: {name: gw, namespace: default}
  listeners:
  - name: https
    port: %[4]d
    protocol: HTTPS
    hostname: %[1]s.example.com
    tls: {certificateRefs: [{name: cert}]}
`, name, crt, key, port, upPort)
	for r := 0; r < routes; r++ {
		fmt.Fprintf(&b, `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r%[2]d, namespace: %[1]s}
spec:
  parentRefs: [{kind: ListenerSet, name: apps}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /r%[2]d}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: up, port: %[3]d}]
`, name, r, upPort)
	}
	return b.String()
}

func selfSigned(t testing.TB, host string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
}

// rssBytes reads this process's resident set size.
func rssBytes() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkListenerSetScale loads one Gateway with sets ListenerSets (each
// an HTTPS listener with its own certificate, in its own namespace) and
// routesPerSet routes each, in the standalone gateway (translator and proxy
// in one process), then measures the time from writing a new ListenerSet
// (with its Secret and a route) to the first 200 over TLS with its SNI.
// Reported: load time and CPU, heap in use and RSS after load (controller
// and proxy together), and p50/p99 of the new-ListenerSet latency.
func BenchmarkListenerSetScale(b *testing.B) {
	for _, tc := range []struct{ sets, routes int }{{250, 16}, {2500, 16}} {
		b.Run(fmt.Sprintf("sets=%d/routes=%d", tc.sets, tc.sets*tc.routes), func(b *testing.B) {
			benchListenerSetScale(b, tc.sets, tc.routes)
		})
	}
}

func benchListenerSetScale(b *testing.B, sets, routesPerSet int) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	upPort := up.Listener.Addr().(*net.TCPAddr).Port
	httpPort, tlsPort := testkit.FreePort(b), testkit.FreePort(b)
	dir := b.TempDir()
	testkit.WriteFileAtomic(b, dir, "gateway.yaml", fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
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
  allowedListeners: {namespaces: {from: All}}
  listeners: [{name: http, port: %d, protocol: HTTP}]
`, httpPort))
	for i := 0; i < sets; i++ {
		testkit.WriteFileAtomic(b, dir, fmt.Sprintf("t%d.yaml", i), tenantFile(b, fmt.Sprintf("t%d", i), tlsPort, upPort, routesPerSet))
	}
	client := func(sni string) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{ServerName: sni, InsecureSkipVerify: true}, DisableKeepAlives: true}}
	}
	get := func(sni, path string) int {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d%s", tlsPort, path), nil)
		req.Host = sni
		resp, err := client(sni).Do(req)
		if err != nil {
			return -1
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	runtime.GC()
	cpu0, start := cpuTime(), time.Now()
	in, err := standalone.Start(context.Background(), standalone.Options{ConfigDir: dir, Debounce: 2 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = in.Stop(context.Background()) }()
	last := fmt.Sprintf("t%d.example.com", sets-1)
	for get(last, fmt.Sprintf("/r%d", routesPerSet-1)) != 200 {
		if time.Since(start) > 5*time.Minute {
			b.Fatal("initial load not served after 5 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	loadTime, loadCPU := time.Since(start), cpuTime()-cpu0
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := rssBytes()

	var lat []time.Duration
	errors := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("new%d", i)
		data := tenantFile(b, name, tlsPort, upPort, 1)
		t0 := time.Now()
		testkit.WriteFileAtomic(b, dir, name+".yaml", data)
		for {
			code := get(name+".example.com", "/r0")
			if code == 200 {
				break
			}
			if code != -1 && code != 404 {
				errors++
			}
			if time.Since(t0) > 30*time.Second {
				b.Fatalf("ListenerSet %s not served after 30s", name)
			}
			time.Sleep(500 * time.Microsecond)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(loadTime.Seconds(), "load-s")
	b.ReportMetric(loadCPU.Seconds(), "load-cpu-s")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(rss/(1<<20), "rss-MB")
	b.ReportMetric(pct(0.5), "new-set-p50-ms")
	b.ReportMetric(pct(0.99), "new-set-p99-ms")
	b.ReportMetric(float64(errors), "errors")
}
