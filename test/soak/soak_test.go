// Package soak runs the standalone gateway under continuous traffic while its
// configuration churns and faults are injected, sampling errors, memory and
// goroutines every second. It runs only with GATEHOUSE_SOAK=1 (make soak).
package soak

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/standalone"
)

// settings are read from the environment so `make soak` can pass them.
func settings(t *testing.T) (duration time.Duration, rate int) {
	if os.Getenv("GATEHOUSE_SOAK") == "" {
		t.Skip("soak test: set GATEHOUSE_SOAK=1 (and GATEHOUSE_SOAK_DURATION, GATEHOUSE_SOAK_RATE) or run make soak")
	}
	duration, rate = time.Minute, 300
	if s := os.Getenv("GATEHOUSE_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 10*time.Second {
			t.Fatalf("GATEHOUSE_SOAK_DURATION=%q: want a Go duration of at least 10s, e.g. 5m", s)
		}
		duration = d
	}
	if s := os.Getenv("GATEHOUSE_SOAK_RATE"); s != "" {
		if _, err := fmt.Sscan(s, &rate); err != nil || rate < 1 || rate > 2000 {
			t.Fatalf("GATEHOUSE_SOAK_RATE=%q: want requests per second between 1 and 2000", s)
		}
	}
	return duration, rate
}

// TestSoak: traffic at a bounded rate to four kinds of route (a stable
// backend whose endpoint set changes, a route flipping between backends,
// a slow upstream, and an upstream that is restarted) over HTTP and HTTPS,
// while routes are added, removed and changed every 100 ms and the TLS
// Secret is rotated. Every non-2xx that an injected fault does not explain
// is an error; the target is none. Samples go to test/soak/out/.
func TestSoak(t *testing.T) {
	duration, rate := settings(t)
	ups := startUpstreams(t)
	cfg := newConfig(t, ups)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in, err := standalone.Start(context.Background(), standalone.Options{ConfigDir: cfg.dir, Admin: "127.0.0.1:0",
		Debounce: 2 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = in.Stop(ctx)
	}()
	cfg.waitServing(t)

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	st := &stats{}
	run(func(ctx context.Context) { cfg.churnRoutes(ctx) })
	run(func(ctx context.Context) { cfg.rotateSecret(ctx, t) })
	run(func(ctx context.Context) { cfg.changeEndpoints(ctx) })
	run(func(ctx context.Context) { ups.restartLoop(ctx, t) })
	run(func(ctx context.Context) { drive(ctx, cfg, ups, rate, st) })
	samples := sample(ctx, st)
	wg.Wait()

	out := writeCSV(t, samples)
	sum := summarize(samples, st)
	t.Logf("soak %v at %d req/s: %s; samples in %s", duration, rate, sum, out)
	fmt.Printf("SOAK SUMMARY (%v, %d req/s): %s\n", duration, rate, sum)
	for _, e := range st.firstErrors() {
		t.Errorf("unexplained: %s", e)
	}
	if st.unexplained.Load() > 0 {
		t.Errorf("%d unexplained errors, want 0", st.unexplained.Load())
	}
	if st.ok.Load() == 0 {
		t.Fatal("no request succeeded")
	}
}

// stats counts outcomes; errors keep their first few descriptions.
type stats struct {
	ok, explained, unexplained, skipped atomic.Int64
	mu                                  sync.Mutex
	errs                                []string
}

func (s *stats) unexplainedError(what string) {
	s.unexplained.Add(1)
	s.mu.Lock()
	if len(s.errs) < 10 {
		s.errs = append(s.errs, time.Now().Format("15:04:05.000")+" "+what)
	}
	s.mu.Unlock()
}

func (s *stats) firstErrors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}

// drive sends rate requests per second, spread over the routes, from a
// bounded pool of workers; a tick with every worker busy is skipped (and
// counted), so the load never exceeds the rate.
func drive(ctx context.Context, cfg *config, ups *upstreams, rate int, st *stats) {
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	secure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "soak.example.com"}, ForceAttemptHTTP2: true}}
	defer plain.CloseIdleConnections()
	defer secure.CloseIdleConnections()
	type job struct {
		c   *http.Client
		url string
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				start := time.Now()
				code, err := get(j.c, j.url)
				switch {
				case err == nil && code/100 == 2:
					st.ok.Add(1)
				case strings.HasSuffix(j.url, "/restart/x") && ups.restartExplains(start, time.Now()):
					st.explained.Add(1)
				default:
					st.unexplainedError(fmt.Sprintf("%s: %d %v", j.url, code, err))
				}
			}
		}()
	}
	paths := []string{"/stable/x", "/flip/x", "/slow/x", "/restart/x"}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			return
		case <-tick.C:
		}
		j := job{plain, fmt.Sprintf("http://127.0.0.1:%d%s", cfg.httpPort, paths[i%len(paths)])}
		if i%3 == 0 {
			j = job{secure, fmt.Sprintf("https://127.0.0.1:%d%s", cfg.httpsPort, paths[i%len(paths)])}
		}
		select {
		case jobs <- j:
		default:
			st.skipped.Add(1)
		}
	}
}

func get(c *http.Client, url string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = "soak.example.com"
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 { // the gateway's reason, for the error report
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return resp.StatusCode, fmt.Errorf("%s", strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// sample records one row per second until ctx ends.
type sampleRow struct {
	at                          time.Duration
	ok, explained, unexplained  int64
	rssKB, heapBytes, goroutine uint64
}

func sample(ctx context.Context, st *stats) []sampleRow {
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var rows []sampleRow
	for {
		select {
		case <-ctx.Done():
			return rows
		case <-tick.C:
		}
		runtime.GC() // the live heap, not garbage not yet collected
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rows = append(rows, sampleRow{at: time.Since(start), ok: st.ok.Load(), explained: st.explained.Load(),
			unexplained: st.unexplained.Load(), rssKB: rssKB(), heapBytes: ms.HeapAlloc,
			goroutine: uint64(runtime.NumGoroutine())})
	}
}

// rssKB reads the process's resident set size from /proc (0 elsewhere).
func rssKB() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb uint64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}

func writeCSV(t *testing.T, rows []sampleRow) string {
	dir := "out"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "soak-"+time.Now().UTC().Format("20060102-150405")+".csv")
	var b strings.Builder
	b.WriteString("seconds,ok,explained_errors,unexplained_errors,rss_kb,heap_bytes,goroutines\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%.0f,%d,%d,%d,%d,%d,%d\n", r.at.Seconds(), r.ok, r.explained, r.unexplained, r.rssKB, r.heapBytes, r.goroutine)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	return abs
}

// summarize reports totals and, over the second half of the run (after
// warm-up), the least-squares slope of RSS, heap and goroutines per minute.
func summarize(rows []sampleRow, st *stats) string {
	half := rows[len(rows)/2:]
	slope := func(y func(sampleRow) float64) float64 {
		var n, sx, sy, sxx, sxy float64
		for _, r := range half {
			x := r.at.Minutes()
			n, sx, sy, sxx, sxy = n+1, sx+x, sy+y(r), sxx+x*x, sxy+x*y(r)
		}
		if d := n*sxx - sx*sx; n > 1 && d != 0 {
			return (n*sxy - sx*sy) / d
		}
		return 0
	}
	last := rows[len(rows)-1]
	mid := half[0]
	return fmt.Sprintf("%d ok, %d explained errors (upstream restarts), %d unexplained, %d ticks skipped; "+
		"second half: RSS %.1f -> %.1f MB (slope %+.2f MB/min), heap %.1f -> %.1f MB (slope %+.3f MB/min), "+
		"goroutines %d -> %d (slope %+.2f/min)",
		st.ok.Load(), st.explained.Load(), st.unexplained.Load(), st.skipped.Load(),
		float64(mid.rssKB)/1024, float64(last.rssKB)/1024, slope(func(r sampleRow) float64 { return float64(r.rssKB) / 1024 }),
		float64(mid.heapBytes)/(1<<20), float64(last.heapBytes)/(1<<20), slope(func(r sampleRow) float64 { return float64(r.heapBytes) / (1 << 20) }),
		mid.goroutine, last.goroutine, slope(func(r sampleRow) float64 { return float64(r.goroutine) }))
}

// randomRoutes returns between 0 and 20 extra routes with random prefixes
// and backends: what churn writes every 100 ms.
func randomRoutes(rng *rand.Rand) string {
	var b strings.Builder
	for i, n := 0, rng.IntN(21); i < n; i++ {
		if i > 0 {
			b.WriteString("---\n")
		}
		backend := []string{"stable", "alt"}[rng.IntN(2)]
		b.WriteString(route(fmt.Sprintf("churn-%d", i), fmt.Sprintf("/churn/%d", rng.IntN(1000)), backend, ""))
	}
	return b.String()
}
