package standalone

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/telemetry"
)

// gatewayYAML is a Gateway on 127.0.0.1:port with HTTPRoute default/web
// (/ -> StaticBackend default/up at upstream) and a TrafficPolicy.
func gatewayYAML(port int, upstream string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatehouse}
spec: {controllerName: gatehouse.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: gatehouse
  addresses: [{type: IPAddress, value: 127.0.0.1}]
  listeners: [{name: http, port: %d, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: edge}]
  rules:
  - backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: up}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: up, namespace: default}
spec:
  endpoints: [%q]
`, port, upstream)
}

// start runs a standalone instance on dir with metrics and an admin port.
func start(t *testing.T, dir string, delay time.Duration) *Instance {
	t.Helper()
	in, err := Start(context.Background(), Options{ConfigDir: dir, Admin: "127.0.0.1:0", Debounce: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: telemetry.NewRegistry(), ShutdownDelay: delay})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
