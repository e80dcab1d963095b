package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// churnSample is one sampling instant of both processes.
type churnSample struct {
	phase             string
	ctrl, proxy       ProcessSample
	clientRequests    int
	clientErrors      int
	podsRecreated     int64
	routesRewritten   int64
	churnCallFailures int64
}

// churnCounters are what the churn goroutines count.
type churnCounters struct {
	pods, routes, failures atomic.Int64
}

const sampleEvery = 5 * time.Second

// TestScaleWithChurn: namespaces x routes (default 50 x 100) attached to one
// Gateway, a Service and one echo pod per namespace; after an idle minute,
// for a fixed duration (default 10 min) a random pod is recreated every ~2 s
// and a random route rewritten every ~1 s. Every 5 s it samples the
// controller's and the proxy's CPU and RSS (/proc) and Go heap, allocations
// per second and goroutines (their /metrics); a low-rate client on a stable
// route counts non-200s. Writes churn.tsv and churn.png.
func TestScaleWithChurn(t *testing.T) {
	requireCluster(t)
	nsCount, perNS, duration := *flagChurnNS, *flagChurnRoutes, *flagChurnDuration
	const gwNS = "bench-churn"
	names := make([]string, nsCount)
	for i := range names {
		names[i] = fmt.Sprintf("churn-%02d", i)
	}
	addr, setupTable := setupChurn(t, gwNS, names, perNS)

	stable := startClient(addr, "stable.churn.example", "/", 100*time.Millisecond)
	var counters churnCounters
	sampler := startChurnSampler(gwNS, stable, &counters)
	time.Sleep(time.Minute)
	sampler.phase.Store("churn")
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var prof profiler
	defer prof.wait()
	prof.capture(t, controllerBase(), "profile", 60*time.Second, "churn-controller.cpu.pprof")
	prof.capture(t, controllerBase(), "allocs", 60*time.Second, "churn-controller.allocs.pprof")
	prof.capture(t, proxyBase(ctx, gwNS), "profile", 60*time.Second, "churn-proxy.cpu.pprof")
	var wg sync.WaitGroup
	wg.Go(func() { churnPods(ctx, names, &counters) })
	wg.Go(func() { churnRoutes(ctx, names, perNS, gwNS, &counters) })
	wg.Wait()
	samples := sampler.stop()
	reqs := stable.stop()

	writeChurnOutput(t, samples)
	errs := 0
	for _, r := range reqs {
		if failed(r) {
			errs++
		}
	}
	tables := churnTables(samples, nsCount*perNS, duration)
	clientTable := &Table{Title: "Churn activity and the stable-route client (10 req/s)",
		Header: []string{"pods recreated", "routes rewritten", "failed churn API calls", "client requests", "client non-200"}}
	clientTable.Add(counters.pods.Load(), counters.routes.Load(), counters.failures.Load(), len(reqs), errs)
	report(t, "churn", append(append([]*Table{setupTable}, tables...), clientTable)...)
	if errs != 0 {
		t.Errorf("%d of %d requests to the stable route failed during churn", errs, len(reqs))
	}
}

// setupChurn creates the Gateway (routes from all namespaces) with a stable
// route and echo in gwNS, then per namespace an echo Deployment and Service
// and perNS routes, and waits until every route is attached, the last one
// is served and every status is written. It returns the Gateway address and
// a table of how long that took.
func setupChurn(t *testing.T, gwNS string, names []string, perNS int) (string, *Table) {
	t.Helper()
	setupNamespace(t, gwNS)
	createGateway(t, gwNS, true)
	createEcho(t, gwNS, "stable", 1, nil, "stable")
	deleteNamespaces(t, append([]string{gwNS}, names...)...)
	addr := gatewayAddress(t, gwNS)
	_, err := env.gw.GatewayV1().HTTPRoutes(gwNS).Create(bg(t), simpleRoute(gwNS, "stable", gwNS, "stable.churn.example", "stable"), metav1.CreateOptions{})
	must(t, "stable route", createIgnoringExists(err))
	waitServed(t, addr, "stable.churn.example", "/", 2*time.Minute)

	start := time.Now()
	for _, ns := range names {
		setupNamespace(t, ns)
		createEcho(t, ns, "echo", 1, nil, "echo")
	}
	must(t, "create routes", parallel(len(names)*perNS, 16, func(i int) error {
		ns := names[i/perNS]
		name := fmt.Sprintf("r%d", i%perNS)
		_, err := env.gw.GatewayV1().HTTPRoutes(ns).Create(context.Background(),
			benchRoute(ns, name, gwNS, fmt.Sprintf("%s.%s.churn.example", name, ns), "echo", "0"), metav1.CreateOptions{})
		return createIgnoringExists(err)
	}))
	created := time.Since(start)
	waitAttachedPolling(t, gwNS, len(names)*perNS+1, 10*time.Minute)
	waitServed(t, addr, fmt.Sprintf("r%d.%s.churn.example", perNS-1, names[len(names)-1]), "/app", 5*time.Minute)
	served := time.Since(start)
	// The idle minute starts once every route's status is written, so it
	// measures idling, not the status backlog.
	_, settled := quiesce(t)
	tb := &Table{Title: fmt.Sprintf("Scale with churn, setup: %d namespaces x %d routes", len(names), perNS),
		Header: []string{"routes created (s)", "all attached and last route served (s)", "all status written (s)"}}
	tb.Add(f1(created.Seconds()), f1(served.Seconds()), f1(settled.Sub(start).Seconds()))
	return addr, tb
}

// churnSampler samples the controller and the proxy every sampleEvery.
type churnSampler struct {
	phase   atomic.Value // string: "idle" or "churn"
	quit    chan struct{}
	done    chan struct{}
	samples []churnSample
}

func startChurnSampler(gwNS string, stable *client, counters *churnCounters) *churnSampler {
	procs := [2]*ProcessSampler{
		{Name: "controller", PID: func() int { return env.ctrl.Process.Pid }, Client: httpc,
			MetricsURL: func() string { return controllerBase() + "/metrics" }},
		{Name: "proxy", PID: func() int { return proxyPID(gwNS + "/gw") }, Client: httpc,
			MetricsURL: func() string { return proxyMetricsURL(context.Background(), gwNS) }},
	}
	cs := &churnSampler{quit: make(chan struct{}), done: make(chan struct{})}
	cs.phase.Store("idle")
	go func() {
		defer close(cs.done)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		seenReqs := 0
		for {
			now := time.Now()
			s := churnSample{phase: cs.phase.Load().(string),
				ctrl: procs[0].Sample(context.Background(), now), proxy: procs[1].Sample(context.Background(), now),
				podsRecreated: counters.pods.Load(), routesRewritten: counters.routes.Load(), churnCallFailures: counters.failures.Load()}
			stable.mu.Lock()
			for _, r := range stable.reqs[seenReqs:] {
				s.clientRequests++
				if failed(r) {
					s.clientErrors++
				}
			}
			seenReqs = len(stable.reqs)
			stable.mu.Unlock()
			cs.samples = append(cs.samples, s)
			select {
			case <-cs.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return cs
}

// stop ends sampling and returns the samples.
func (cs *churnSampler) stop() []churnSample {
	close(cs.quit)
	<-cs.done
	return cs.samples
}

// waitAttachedPolling polls Gateway ns/gw until it reports want attached
// routes (a watch would deliver thousands of intermediate versions).
func waitAttachedPolling(t *testing.T, ns string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := -1
	for time.Now().Before(deadline) {
		g, err := env.gw.GatewayV1().Gateways(ns).Get(bg(t), "gw", metav1.GetOptions{})
		if err == nil {
			if got = attachedRoutes(g); got == want {
				return
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("attachedRoutes %d after %v, want %d", got, timeout, want)
}

// jittered returns d +- 25%.
func jittered(d time.Duration) time.Duration {
	return d*3/4 + time.Duration(rand.Int64N(int64(d/2)))
}

// churnPods deletes a random namespace's echo pod every ~2 s (its
// Deployment recreates it) until ctx ends.
func churnPods(ctx context.Context, names []string, c *churnCounters) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(jittered(2 * time.Second)):
		}
		ns := names[rand.IntN(len(names))]
		pods, err := env.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil || len(pods.Items) == 0 {
			c.failures.Add(1)
			continue
		}
		p := pods.Items[rand.IntN(len(pods.Items))]
		if err := env.kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			c.failures.Add(1)
			continue
		}
		c.pods.Add(1)
	}
}

// churnRoutes rewrites a random route every ~1 s until ctx ends: a new
// header value and the /app prefix alternating with /app2, so the change
// reaches the proxy's route table.
func churnRoutes(ctx context.Context, names []string, perNS int, gwNS string, c *churnCounters) {
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(jittered(time.Second)):
		}
		ns := names[rand.IntN(len(names))]
		name := fmt.Sprintf("r%d", rand.IntN(perNS))
		routes := env.gw.GatewayV1().HTTPRoutes(ns)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			r, err := routes.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			want := benchRoute(ns, name, gwNS, string(r.Spec.Hostnames[0]), "echo", fmt.Sprint(n))
			if n%2 == 1 {
				v := "/app2"
				want.Spec.Rules[0].Matches[0].Path.Value = &v
			}
			r.Spec.Rules = want.Spec.Rules
			_, err = routes.Update(ctx, r, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				c.failures.Add(1)
			}
			continue
		}
		c.routes.Add(1)
	}
}

// churnColumns are the TSV columns per process.
var churnColumns = []string{"cpu_pct", "rss_mb", "heap_mb", "allocs_per_s", "goroutines"}

func sampleValues(s ProcessSample) []float64 {
	return []float64{s.CPUPercent, s.RSSMB, s.HeapMB, s.AllocsPerS, s.Goroutines}
}

func writeChurnOutput(t *testing.T, samples []churnSample) {
	t.Helper()
	header := []string{"t_s", "phase"}
	for _, p := range []string{"controller", "proxy"} {
		for _, c := range churnColumns {
			header = append(header, p+"_"+c)
		}
	}
	header = append(header, "client_requests", "client_errors", "pods_recreated", "routes_rewritten", "churn_call_failures")
	var rows [][]any
	start := samples[0].ctrl.At
	for _, s := range samples {
		row := []any{fmt.Sprintf("%.1f", s.ctrl.At.Sub(start).Seconds()), s.phase}
		for _, v := range append(sampleValues(s.ctrl), sampleValues(s.proxy)...) {
			row = append(row, fmt.Sprintf("%.2f", v))
		}
		rows = append(rows, append(row, s.clientRequests, s.clientErrors, s.podsRecreated, s.routesRewritten, s.churnCallFailures))
	}
	must(t, "write samples", WriteTSV(outDir(), "churn.tsv", header, rows))

	titles := []struct{ title, unit string }{{"CPU", "% of one core"}, {"RSS", "MB"}, {"Go heap in use", "MB"},
		{"allocations", "per second"}, {"goroutines", ""}}
	panels := make([]Panel, len(titles))
	ctrlColor, proxyColor := color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}
	var marks []float64 // where churn starts
	for i, s := range samples {
		if s.phase == "churn" && (i == 0 || samples[i-1].phase != "churn") {
			marks = append(marks, s.ctrl.At.Sub(start).Seconds())
		}
	}
	for i, tt := range titles {
		var x, yc, yp []float64
		for _, s := range samples {
			x = append(x, s.ctrl.At.Sub(start).Seconds())
			yc = append(yc, sampleValues(s.ctrl)[i])
			yp = append(yp, sampleValues(s.proxy)[i])
		}
		panels[i] = Panel{Title: tt.title, Unit: tt.unit, Series: []Series{
			{Name: "controller", Color: ctrlColor, X: x, Y: yc}, {Name: "proxy", Color: proxyColor, X: x, Y: yp}},
			Marks: marks}
	}
	var buf bytes.Buffer
	must(t, "plot", RenderPNG(&buf, "Scale with churn: controller and proxy (idle first minute; dashed line: churn starts)", panels))
	must(t, "write plot", os.WriteFile(filepath.Join(outDir(), "churn.png"), buf.Bytes(), 0o644))
}

// churnTables summarises the samples per process: the idle minute, the
// first and last minute of churn, the whole churn, and the trend of memory
// during churn (a leak shows as a steady positive slope).
func churnTables(samples []churnSample, routes int, duration time.Duration) []*Table {
	var tables []*Table
	for pi, name := range []string{"controller", "proxy"} {
		pick := func(s churnSample) ProcessSample { return [2]ProcessSample{s.ctrl, s.proxy}[pi] }
		tb := &Table{Title: fmt.Sprintf("Scale with churn, %s: %d routes, %v of churn (means over 5 s samples)", name, routes, duration),
			Header: []string{"window", "CPU % of a core", "RSS MB", "Go heap MB", "allocations/s", "goroutines"}}
		var churn []churnSample
		var idle []churnSample
		for _, s := range samples {
			if s.phase == "churn" {
				churn = append(churn, s)
			} else {
				idle = append(idle, s)
			}
		}
		perMinute := int(time.Minute / sampleEvery)
		windows := []struct {
			label string
			s     []churnSample
		}{{"idle (1 min)", idle}, {"churn, first minute", churn[:min(perMinute, len(churn))]},
			{"churn, last minute", churn[max(0, len(churn)-perMinute):]}, {"churn, all", churn}}
		for _, w := range windows {
			cols := make([][]float64, len(churnColumns))
			for _, s := range w.s {
				for i, v := range sampleValues(pick(s)) {
					cols[i] = append(cols[i], v)
				}
			}
			tb.Add(w.label, f1(Mean(cols[0])), f1(Mean(cols[1])), f1(Mean(cols[2])), fmt.Sprintf("%.0f", Mean(cols[3])), fmt.Sprintf("%.0f", Mean(cols[4])))
		}
		var x, rss, heap []float64
		for _, s := range churn {
			p := pick(s)
			x = append(x, p.At.Sub(churn[0].ctrl.At).Minutes())
			rss = append(rss, p.RSSMB)
			heap = append(heap, p.HeapMB)
		}
		tb.Add("churn trend per minute", "", fmt.Sprintf("%+.2f", LinearSlope(x, rss)), fmt.Sprintf("%+.2f", LinearSlope(x, heap)), "", "")
		tables = append(tables, tb)
	}
	return tables
}

func f1(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", v)
}
