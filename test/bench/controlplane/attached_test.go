package controlplane

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// gatewayWatch records every version of Gateway ns/gw: each MODIFIED event
// with a new resourceVersion is one write to the Gateway (after
// provisioning only the controller's status writes change it).
type gatewayWatch struct {
	mu      sync.Mutex
	writes  int
	samples [][]any // time since start (ms), attachedRoutes
	start   time.Time
	notify  chan struct{}
	current int
	w       watch.Interface
}

func watchGateway(t *testing.T, ns string) *gatewayWatch {
	t.Helper()
	w, err := env.gw.GatewayV1().Gateways(ns).Watch(bg(t), metav1.ListOptions{FieldSelector: "metadata.name=gw"})
	must(t, "watch Gateway", err)
	gw := &gatewayWatch{w: w, start: time.Now(), notify: make(chan struct{}, 1), current: -1}
	go func() {
		for ev := range w.ResultChan() {
			g, ok := ev.Object.(*gwv1.Gateway)
			if !ok {
				continue
			}
			n := attachedRoutes(g)
			gw.mu.Lock()
			if ev.Type == watch.Modified {
				gw.writes++
			}
			gw.current = n
			gw.samples = append(gw.samples, []any{time.Since(gw.start).Milliseconds(), ev.Type, n})
			gw.mu.Unlock()
			select {
			case gw.notify <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(w.Stop)
	return gw
}

// waitAttached waits until the Gateway reports want attached routes and
// returns when it saw that.
func (g *gatewayWatch) waitAttached(t *testing.T, want int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	for {
		g.mu.Lock()
		cur := g.current
		g.mu.Unlock()
		if cur == want {
			return time.Now()
		}
		select {
		case <-g.notify:
		case <-deadline:
			t.Fatalf("attachedRoutes %d after %v, want %d", cur, timeout, want)
		}
	}
}

// resetWrites returns the writes counted so far and starts counting anew.
func (g *gatewayWatch) resetWrites() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.writes
	g.writes = 0
	return n
}

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// statusWrites reads the controller's status-write counter.
func statusWrites(t *testing.T) float64 {
	t.Helper()
	m, err := controllerMetrics(bg(t))
	must(t, "controller metrics", err)
	return Value(m, MetricStatusWrites)
}

// quiesce waits until the controller's status-write counter has not moved
// for 2 s (its queue is drained) and returns it with the time it last
// moved.
func quiesce(t *testing.T) (float64, time.Time) {
	t.Helper()
	last := statusWrites(t)
	stable := time.Now()
	for time.Since(stable) < 2*time.Second {
		time.Sleep(50 * time.Millisecond)
		if v := statusWrites(t); v != last {
			last, stable = v, time.Now()
		}
	}
	return last, stable
}

// queueSampler records the controller's status queue depth and write
// counter every 100 ms until stopped, to show how the status backlog drains.
type queueSampler struct {
	quit, done chan struct{}
	rows       [][]any
	maxDepth   float64
}

func sampleQueue(phase string, start time.Time) *queueSampler {
	q := &queueSampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := controllerMetrics(context.Background()); err == nil {
				depth := Value(m, MetricStatusQueueDepth)
				q.maxDepth = max(q.maxDepth, depth)
				q.rows = append(q.rows, []any{phase, time.Since(start).Milliseconds(), depth, Value(m, MetricStatusWrites)})
			}
			select {
			case <-q.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return q
}

func (q *queueSampler) stop() *queueSampler {
	close(q.quit)
	<-q.done
	return q
}

// TestAttachedRoutes: N HTTPRoutes (default 1,000) created at once on one
// Gateway; time until status.listeners[].attachedRoutes is N, then delete
// them all and time until 0; count the writes to the Gateway (watch events)
// and all the controller's status writes (its counter, which also counts
// each route's own status).
func TestAttachedRoutes(t *testing.T) {
	requireCluster(t)
	n := *flagAttachedRoutes
	ns := "bench-attached"
	setupNamespace(t, ns)
	deleteNamespaces(t, ns)
	createGateway(t, ns, false)
	createEcho(t, ns, "echo", 1, nil, "echo")
	gatewayAddress(t, ns)
	gwatch := watchGateway(t, ns)
	gwatch.waitAttached(t, 0, 30*time.Second)
	before, _ := quiesce(t)
	gwatch.resetWrites()

	table := &Table{Title: fmt.Sprintf("Attached routes: %d HTTPRoutes on one Gateway", n),
		Header: []string{"phase", "API calls took (ms)", "attachedRoutes right, from first call (ms)",
			"from last call (ms)", "Gateway status writes", "controller status writes (all objects)",
			"last status write, from last call (ms)", "max status queue depth"}}
	var queueRows [][]any
	phase := func(name string, want int, call func(i int) error) {
		start := time.Now()
		q := sampleQueue(name, start)
		must(t, name, parallel(n, 32, call))
		called := time.Now()
		done := gwatch.waitAttached(t, want, 2*time.Minute)
		after, settled := quiesce(t)
		q.stop()
		queueRows = append(queueRows, q.rows...)
		writes := gwatch.resetWrites()
		table.Add(name, Ms(called.Sub(start)), Ms(done.Sub(start)), Ms(max(0, done.Sub(called))), writes, int(after-before),
			Ms(max(0, settled.Sub(called))), int(q.maxDepth))
		before = after
	}
	routes := env.gw.GatewayV1().HTTPRoutes(ns)
	phase("create", n, func(i int) error {
		_, err := routes.Create(context.Background(), simpleRoute(ns, fmt.Sprintf("r%d", i), ns,
			fmt.Sprintf("r%d.attached.example", i), "echo"), metav1.CreateOptions{})
		return err
	})
	accepted := countAccepted(t, ns)
	phase("delete", 0, func(i int) error {
		return routes.Delete(context.Background(), fmt.Sprintf("r%d", i), metav1.DeleteOptions{})
	})
	gwatch.mu.Lock()
	samples := gwatch.samples
	gwatch.mu.Unlock()
	must(t, "write samples", WriteTSV(outDir(), "attached-routes.tsv", []string{"ms", "event", "attachedRoutes"}, samples))
	must(t, "write queue samples", WriteTSV(outDir(), "attached-routes-queue.tsv",
		[]string{"phase", "ms", "status_queue_depth", "status_writes_total"}, queueRows))
	report(t, "attached-routes", table)
	if accepted != n {
		t.Errorf("%d of %d routes had Accepted=True once attachedRoutes was right", accepted, n)
	}
}

// countAccepted counts routes in ns whose status from us says Accepted=True,
// waiting up to 30 s for all of them.
func countAccepted(t *testing.T, ns string) int {
	t.Helper()
	var ok, total int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		list, err := env.gw.GatewayV1().HTTPRoutes(ns).List(bg(t), metav1.ListOptions{})
		must(t, "list routes", err)
		ok, total = 0, len(list.Items)
		for _, r := range list.Items {
			for _, p := range r.Status.Parents {
				if string(p.ControllerName) == controllerName && metaTrue(p.Conditions, "Accepted") {
					ok++
				}
			}
		}
		if ok == total {
			break
		}
	}
	return ok
}

func metaTrue(conds []metav1.Condition, typ string) bool {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}
