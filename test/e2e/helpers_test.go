package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/standalone"
	"gatehouse.dev/gatehouse/internal/testkit"
)

// gateway is a standalone instance running on a temp config directory.
type gateway struct {
	t    *testing.T
	dir  string
	port int
	in   *standalone.Instance
}

// upstream starts a test backend that answers with its name and echoes the
// request's path and selected headers in response headers.
func upstream(t *testing.T, name string) (host string, port int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", name)
		w.Header().Set("X-Seen-Path", r.URL.RequestURI())
		w.Header().Set("X-Seen-Host", r.Host)
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-") {
				w.Header().Set("X-Seen-"+k, strings.Join(v, ","))
			}
		}
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "hello from %s\n", name)
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// gatewayWith returns our GatewayClass and a Gateway "gw" on 127.0.0.1 with
// the given listener lines, in which %[1]d stands for the test's port.
func gatewayWith(listeners string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
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
  listeners:
` + listeners
}

// classAndGateway has one HTTP listener accepting routes from every namespace.
var classAndGateway = gatewayWith("  - {name: http, port: %[1]d, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}\n")

// startGateway writes files (name -> content; "%d" in gateway.yaml is the
// listener port) and starts a standalone instance on them; each configure
// function may change the instance's options before it starts.
func startGateway(t *testing.T, files map[string]string, configure ...func(*standalone.Options)) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: t.TempDir(), port: testkit.FreePort(t)}
	if _, ok := files["gateway.yaml"]; !ok {
		files["gateway.yaml"] = classAndGateway
	}
	for name, content := range files {
		if name == "gateway.yaml" {
			content = fmt.Sprintf(content, g.port)
		}
		g.write(name, content)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts := standalone.Options{ConfigDir: g.dir, Admin: "127.0.0.1:0", Debounce: 2 * time.Millisecond, Logger: log}
	for _, c := range configure {
		c(&opts)
	}
	in, err := standalone.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	g.in = in
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = in.Stop(ctx)
	})
	return g
}

func (g *gateway) write(name, content string) {
	g.t.Helper()
	testkit.WriteFileAtomic(g.t, g.dir, name, content)
}

func (g *gateway) remove(name string) {
	g.t.Helper()
	if err := os.Remove(filepath.Join(g.dir, name)); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", g.port, path) }

var client = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// get sends a request with an optional Host and headers and returns the
// response with its body read.
func (g *gateway) get(path, host string, hdr ...string) (*http.Response, string) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.url(path), nil)
	if err != nil {
		g.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		g.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// eventually polls cond until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// adminGet fetches an admin endpoint.
func (g *gateway) adminGet(path string) string {
	g.t.Helper()
	resp, err := client.Get("http://" + g.in.AdminAddr.String() + path)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func staticBackend(name, host string, port int) string {
	return fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: %s, namespace: default}
spec: {endpoints: ["%s:%d"]}
`, name, host, port)
}

// routeTo returns an HTTPRoute sending path prefix to a StaticBackend.
func routeTo(name, hostname, prefix, backend string, port int) string {
	hosts := ""
	if hostname != "" {
		hosts = fmt.Sprintf("  hostnames: [%q]\n", hostname)
	}
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: default}
spec:
  parentRefs: [{name: gw}]
%s  rules:
  - matches: [{path: {type: PathPrefix, value: %s}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: %s, port: %d}]
`, name, hosts, prefix, backend, port)
}
