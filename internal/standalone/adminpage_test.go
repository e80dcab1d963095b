package standalone

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse.dev/gatehouse/internal/testkit"
)

const chromiumPath = "/usr/bin/chromium"

// TestAdminPageInBrowser loads the overview page of a real standalone
// instance in headless Chromium, checks the text of its main views and takes
// a screenshot.
func TestAdminPageInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("headless browser test needs Debian's chromium at " + chromiumPath + " (apt-get install chromium)")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer up.Close()
	dir, port := t.TempDir(), testkit.FreePort(t)
	writeFile(t, dir, "gw.yaml", gatewayYAML(port, up.Listener.Addr().String()))
	writeFile(t, dir, "broken.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: bad, namespace: default}\nspec: {nope: 1}\n")
	in := start(t, dir, 0)
	defer in.Stop(context.Background())

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate("http://"+in.AdminAddr.String()+"/"),
		chromedp.WaitVisible("#gateways"),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	title := run(ctx, t, chromedp.Title())
	text := func(sel string) string { return run(ctx, t, chromedp.Text(sel)) }
	header, gateways, routes := text("header"), text("#gateways"), text("#routes")
	backends, problems, status := text("#backends"), text("#problems"), text("#status")
	shot := run(ctx, t, chromedp.CaptureScreenshot())
	checks := []struct{ view, text string }{
		{title, "Gatehouse"},
		{header, "ready"},
		{header, "config version"},
		{gateways, "default/edge"},
		{gateways, "default/edge/http"},
		{gateways, fmt.Sprintf("127.0.0.1:%d", port)},
		{routes, "default/web"},
		{routes, "StaticBackend/default/up"},
		{backends, up.Listener.Addr().String()},
		{backends, "healthy"},
		{problems, "broken.yaml"},
		{status, "Gateway default/edge"},
		{status, "Accepted=True"},
	}
	for _, c := range checks {
		if !strings.Contains(c.view, c.text) {
			t.Errorf("page view does not contain %q:\n%s", c.text, c.view)
		}
	}
	if strings.Contains(header, "not ready") {
		t.Errorf("header says not ready: %q", header)
	}

	path := filepath.Join(t.TempDir(), "admin.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Errorf("screenshot is %dx%d, want 1280x900", b.Dx(), b.Dy())
	}
	// Not blank: the dark header and the white sections differ, so the
	// picture has many distinct colours.
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[(r>>8)<<16|(g>>8)<<8|bl>>8] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("screenshot looks blank: %d distinct colours", len(colours))
	}
	t.Logf("screenshot %s (%d bytes, %d colours sampled)", path, len(shot), len(colours))
}

// TestAdminEndpoints: metrics, liveness and readiness on the admin port of
// a standalone instance.
func TestAdminEndpoints(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer up.Close()
	dir, port := t.TempDir(), testkit.FreePort(t)
	writeFile(t, dir, "gw.yaml", gatewayYAML(port, up.Listener.Addr().String()))
	in := start(t, dir, 0)
	defer in.Stop(context.Background())
	admin := "http://" + in.AdminAddr.String()
	if code, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/x", port)); err != nil || code != 200 {
		t.Fatalf("proxied request: %d %v", code, err)
	}
	for path, want := range map[string]int{"/healthz": 200, "/ready": 200, "/proxies": 404, "/nope": 404} {
		if code, _, _ := httpGet(admin + path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
	_, text, _ := httpGet(admin + "/metrics")
	for _, want := range []string{
		"gatehouse_translation_batches_total ", "gatehouse_proxy_config_version 1",
		`gatehouse_proxy_requests_total{backend="StaticBackend/default/up",code_class="2xx",gateway="default/edge",listener="default/edge/http",route="default/web"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// run runs one browser action and fails the test on error.
func run[T any](ctx context.Context, t *testing.T, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}
