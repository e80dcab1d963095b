package controlplane

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// propagated is one route's measurement.
type propagated struct {
	total, createCall time.Duration // create start -> first 200; the create call alone
	polls, errors     int
}

// TestPropagation adds routes one at a time (default 3,000), each with its
// own hostname, two rules (/app to a real backend, / to a missing one) and a
// header modifier; after each create it polls the Gateway every 5 ms with
// that Host until a 200. Latency is from the start of the create call to the
// 200. Any answer but 404 (not yet routed) or 200 is an error.
func TestPropagation(t *testing.T) {
	requireCluster(t)
	n := *flagPropRoutes
	ns := "bench-propagation"
	setupNamespace(t, ns)
	deleteNamespaces(t, ns)
	createGateway(t, ns, false)
	createEcho(t, ns, "echo", 1, nil, "echo")
	addr := gatewayAddress(t, ns)
	// The echo Service must be ready before the first measurement, else the
	// first route measures pod start-up.
	warm := simpleRoute(ns, "warm", ns, "warm.prop.example", "echo")
	_, err := env.gw.GatewayV1().HTTPRoutes(ns).Create(bg(t), warm, metav1.CreateOptions{})
	must(t, "warm-up route", createIgnoringExists(err))
	waitServed(t, addr, "warm.prop.example", "/", 2*time.Minute)

	var prof profiler
	defer prof.wait()
	prof.capture(t, controllerBase(), "profile", 30*time.Second, "propagation-controller.cpu.pprof")
	prof.capture(t, proxyBase(bg(t), ns), "profile", 30*time.Second, "propagation-proxy.cpu.pprof")
	results := make([]propagated, 0, n)
	rows := make([][]any, 0, n)
	errorsSeen := map[string]int{}
	totalErrors := 0
	for i := range n {
		p := addAndPoll(t, addr, ns, i, errorsSeen)
		results = append(results, p)
		totalErrors += p.errors
		rows = append(rows, []any{i, Ms(p.total), Ms(p.createCall), p.polls, p.errors})
	}
	must(t, "write samples", WriteTSV(outDir(), "propagation.tsv",
		[]string{"route", "latency_ms", "create_call_ms", "polls", "errors"}, rows))
	memory := &Table{Title: "Memory after the run", Header: []string{"process", "RSS MB", "of which anonymous MB", "of which file-backed MB", "Go heap MB"}}
	memoryRow(t, memory, "controller", env.ctrl.Process.Pid, controllerBase()+"/metrics")
	memoryRow(t, memory, "proxy", proxyPID(ns+"/gw"), proxyMetricsURL(bg(t), ns))
	report(t, "propagation", append(propagationTables(results, totalErrors), memory)...)
	if totalErrors != 0 {
		t.Errorf("%d answers other than 404/200 while routes appeared: %v", totalErrors, errorsSeen)
	}
}

// addAndPoll creates route i and polls it every 5 ms until it answers 200,
// counting other answers than 404 in errorsSeen.
func addAndPoll(t *testing.T, addr, ns string, i int, errorsSeen map[string]int) propagated {
	t.Helper()
	host := fmt.Sprintf("r%d.prop.example", i)
	start := time.Now()
	_, err := env.gw.GatewayV1().HTTPRoutes(ns).Create(context.Background(),
		benchRoute(ns, fmt.Sprintf("r%d", i), ns, host, "echo", fmt.Sprint(i)), metav1.CreateOptions{})
	must(t, "create route", err)
	p := propagated{createCall: time.Since(start)}
	for {
		code, _, err := get(addr, host, "/app/x")
		p.polls++
		if err == nil && code == 200 {
			p.total = time.Since(start)
			return p
		}
		if err != nil || code != 404 {
			p.errors++
			errorsSeen[fmt.Sprintf("code %d err %v", code, err)]++
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("route %d not served after 1m", i)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// propagationTables summarises the run, by slices of the run (to show
// whether latency stays flat as routes accumulate) and by part.
func propagationTables(results []propagated, totalErrors int) []*Table {
	n := len(results)
	lat := make([]time.Duration, n)
	createCall := make([]time.Duration, n)
	afterCreate := make([]time.Duration, n)
	for i, p := range results {
		lat[i], createCall[i], afterCreate[i] = p.total, p.createCall, p.total-p.createCall
	}
	sum := &Table{Title: fmt.Sprintf("Propagation: %d routes added one at a time, create -> first 200 (5 ms polling)", n),
		Header: []string{"routes", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms", "errors"}}
	addRow := func(label string, d []time.Duration, errs string) {
		s := Summarize(d)
		sum.Add(label, Ms(s.P50), Ms(s.P90), Ms(s.P99), Ms(s.Max), Ms(s.Mean), errs)
	}
	addRow(fmt.Sprintf("all %d", n), lat, fmt.Sprint(totalErrors))
	k := min(100, n)
	addRow(fmt.Sprintf("first %d", k), lat[:k], "")
	for from := 1000; from+k <= n; from += 1000 {
		addRow(fmt.Sprintf("%d..%d", from, from+k-1), lat[from:from+k], "")
	}
	addRow(fmt.Sprintf("last %d", k), lat[n-k:], "")
	// The create call is the apiserver's own write (etcd included); what
	// follows it is the controller's watch, translation, push and the
	// proxy's swap, plus up to one 5 ms polling interval.
	parts := &Table{Title: "Propagation: where the time goes (all routes)",
		Header: []string{"part", "p50 ms", "p90 ms", "p99 ms", "max ms"}}
	for _, p := range []struct {
		label string
		d     []time.Duration
	}{{"create call (apiserver)", createCall}, {"create returned -> first 200", afterCreate}, {"total", lat}} {
		s := Summarize(p.d)
		parts.Add(p.label, Ms(s.P50), Ms(s.P90), Ms(s.P99), Ms(s.Max))
	}
	return []*Table{sum, parts}
}

// memoryRow adds a process's RSS (split into anonymous and file-backed
// pages) and Go heap to tb.
func memoryRow(t *testing.T, tb *Table, name string, pid int, metricsURL string) {
	t.Helper()
	p := &ProcessSampler{Name: name, PID: func() int { return pid }, MetricsURL: func() string { return metricsURL }, Client: httpc}
	s := p.Sample(bg(t), time.Now())
	rss, anon, file := "n/a", "n/a", "n/a"
	if r, err := ReadRSSBreakdown(pid); err == nil {
		mb := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
		rss, anon, file = mb(r.Total()), mb(r.AnonBytes), mb(r.FileBytes)
	}
	tb.Add(name, rss, anon, file, fmt.Sprintf("%.1f", s.HeapMB))
}
