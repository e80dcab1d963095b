package controlplane

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// flagProfile turns on pprof captures during the scenarios (CPU profiles of
// the controller and the proxy, and the controller's allocations), written
// next to the samples for `go tool pprof`.
var flagProfile = os.Getenv("BENCH_PROFILE") != ""

// profiler fetches profiles in the background; wait returns when all are
// written.
type profiler struct {
	wg sync.WaitGroup
}

// capture fetches base+/debug/pprof/<what>?seconds=<d> into <out>/<file>
// when profiling is on. base is "http://host:port".
func (p *profiler) capture(t *testing.T, base, what string, d time.Duration, file string) {
	if !flagProfile || base == "" {
		return
	}
	url := fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", base, what, int(d.Seconds()))
	p.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Logf("profile %s: %v", url, err)
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Logf("profile %s: %s %v", url, resp.Status, err)
			return
		}
		if err := os.MkdirAll(outDir(), 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(outDir(), file), b, 0o644)
		}
	})
}

func (p *profiler) wait() { p.wg.Wait() }

// controllerBase is the controller's admin base URL.
func controllerBase() string { return "http://" + env.adminAddr }

// proxyBase is a proxy's admin base URL from its metrics URL.
func proxyBase(ctx context.Context, ns string) string {
	u := proxyMetricsURL(ctx, ns)
	if u == "" {
		return ""
	}
	return u[:len(u)-len("/metrics")]
}
