package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/testkit"
	"gatehouse.dev/gatehouse/internal/translate"
)

// TestProxyOverXDS runs the Kubernetes-mode data path without a cluster:
// files -> translator -> hub -> gRPC delta xDS -> proxy.Proxy, and checks
// traffic, a config change, and that the proxy keeps serving while the
// control plane is down and converges after it returns.
func TestProxyOverXDS(t *testing.T) {
	h, p := upstream(t, "a")
	hb, pb := upstream(t, "b")
	dir := t.TempDir()
	port := testkit.FreePort(t)
	write := func(name, content string) { testkit.WriteFileAtomic(t, dir, name, content) }
	write("gateway.yaml", fmt.Sprintf(classAndGateway, port))
	write("backends.yaml", staticBackend("a", h, p)+"---\n"+staticBackend("b", hb, pb))
	write("route.yaml", routeTo("r", "", "/", "a", p))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("proxy-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	xdsAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))

	// The control plane, startable twice.
	startControlPlane := func(ctx context.Context) func() {
		tr := translate.New(translate.DefaultControllerName)
		hub := distribute.NewHub()
		tr.OnIR(func(c translate.IRChange) { hub.Publish(c.Upserts, c.Removes) })
		src := file.New(dir, tr, file.Options{Logger: log, Debounce: 2 * time.Millisecond})
		if _, err := src.Load(); err != nil {
			t.Fatal(err)
		}
		srv, err := xds.NewServer(xds.Options{Hub: hub, Logger: log,
			Authenticator: xds.StaticTokens{"proxy-token": "system:serviceaccount:default:gw-gatehouse"}})
		if err != nil {
			t.Fatal(err)
		}
		lis, err := net.Listen("tcp", xdsAddr)
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		srv.Register(gs)
		go func() { _ = gs.Serve(lis) }()
		cctx, cancel := context.WithCancel(ctx)
		go func() { _ = src.Run(cctx) }()
		return func() { cancel(); gs.Stop() }
	}
	stopCP := startControlPlane(context.Background())

	px := proxy.New(proxy.Options{Logger: log})
	defer func() { _ = px.Shutdown(context.Background()) }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &xds.Client{Addr: xdsAddr, Gateway: "default/gw", Node: "test-proxy", TokenFile: tokenFile,
		Logger: log, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	go func() { _ = client.Run(ctx, px.Apply) }()

	g := &gateway{t: t, dir: dir, port: port}
	eventually(t, "route served over xDS", func() bool {
		resp, err := client0(g)
		return err == nil && resp == "a"
	})
	write("route.yaml", routeTo("r", "", "/", "b", pb))
	eventually(t, "changed route served over xDS", func() bool {
		resp, err := client0(g)
		return err == nil && resp == "b"
	})
	stopCP()
	for i := 0; i < 20; i++ { // control plane down: keep serving
		if resp, err := client0(g); err != nil || resp != "b" {
			t.Fatalf("request %d while the controller is down: %q %v", i, resp, err)
		}
	}
	write("route.yaml", routeTo("r", "", "/", "a", p))
	stopCP = startControlPlane(context.Background())
	defer stopCP()
	eventually(t, "proxy reconnected and converged", func() bool {
		resp, err := client0(g)
		return err == nil && resp == "a" && client.Connected()
	})
}

// client0 returns the X-Upstream of a GET / through the gateway.
func client0(g *gateway) (string, error) {
	resp, err := client.Get(g.url("/"))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return strings.TrimSpace(resp.Header.Get("X-Upstream")), nil
}
