package controlplane

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// request is one client request's outcome.
type request struct {
	start, end time.Time
	code       int
	backend    string // Deployment that answered (pod name without the ReplicaSet and pod suffixes)
	pod        string
	err        error
}

// client sends requests to host until stopped: back to back when interval
// is 0, else one every interval.
type client struct {
	quit chan struct{}
	done chan struct{}
	mu   sync.Mutex
	reqs []request
}

func startClient(addr, host, path string, interval time.Duration) *client {
	c := &client{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var tick <-chan time.Time
		if interval > 0 {
			tk := time.NewTicker(interval)
			defer tk.Stop()
			tick = tk.C
		}
		for {
			select {
			case <-c.quit:
				return
			default:
			}
			if tick != nil {
				select {
				case <-c.quit:
					return
				case <-tick:
				}
			}
			r := request{start: time.Now()}
			var reply echoReply
			r.code, reply, r.err = get(addr, host, path)
			r.end = time.Now()
			r.pod = reply.Pod
			r.backend = deploymentOf(reply.Pod)
			c.mu.Lock()
			c.reqs = append(c.reqs, r)
			c.mu.Unlock()
		}
	}()
	return c
}

// stop ends the client and returns its requests.
func (c *client) stop() []request {
	close(c.quit)
	<-c.done
	return c.reqs
}

// deploymentOf strips the ReplicaSet hash and pod suffix from a pod name.
func deploymentOf(pod string) string {
	parts := strings.Split(pod, "-")
	if len(parts) < 3 {
		return pod
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

func failed(r request) bool { return r.err != nil || r.code != 200 }

// TestRouteChanges flips one route between two backends (default 20 times,
// 200 ms apart) while a client sends requests back to back; every non-200
// is an error. It also records how long each flip took to show in answers.
func TestRouteChanges(t *testing.T) {
	requireCluster(t)
	flips := *flagFlips
	ns := "bench-flip"
	setupNamespace(t, ns)
	deleteNamespaces(t, ns)
	createGateway(t, ns, false)
	createEcho(t, ns, "echo-a", 1, nil, "echo-a")
	createEcho(t, ns, "echo-b", 1, nil, "echo-b")
	addr := gatewayAddress(t, ns)
	host := "flip.example"
	routes := env.gw.GatewayV1().HTTPRoutes(ns)
	// Both backends must serve before the flips start.
	for _, svc := range []string{"echo-b", "echo-a"} {
		_, err := routes.Create(bg(t), simpleRoute(ns, "warm-"+svc, ns, svc+".flip.example", svc), metav1.CreateOptions{})
		must(t, "warm-up route", createIgnoringExists(err))
		waitServed(t, addr, svc+".flip.example", "/", 2*time.Minute)
	}
	_, err := routes.Create(bg(t), simpleRoute(ns, "flip", ns, host, "echo-a"), metav1.CreateOptions{})
	must(t, "route", createIgnoringExists(err))
	waitServed(t, addr, host, "/", time.Minute)

	c := startClient(addr, host, "/", 0)
	time.Sleep(time.Second) // a baseline before the first flip
	type flip struct {
		at     time.Time
		target string
	}
	var done []flip
	for i := range flips {
		target := []string{"echo-b", "echo-a"}[i%2]
		at := time.Now()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			r, err := routes.Get(bg(t), "flip", metav1.GetOptions{})
			if err != nil {
				return err
			}
			r.Spec.Rules[0].BackendRefs = simpleRoute(ns, "flip", ns, host, target).Spec.Rules[0].BackendRefs
			_, err = routes.Update(bg(t), r, metav1.UpdateOptions{})
			return err
		})
		must(t, "flip", err)
		done = append(done, flip{at, target})
		time.Sleep(200*time.Millisecond - time.Since(at))
	}
	time.Sleep(time.Second)
	reqs := c.stop()

	var rows [][]any
	errs := 0
	seen := map[string]int{}
	for _, r := range reqs {
		if failed(r) {
			errs++
		}
		seen[r.backend]++
		rows = append(rows, []any{r.start.Sub(reqs[0].start).Milliseconds(), Ms(r.end.Sub(r.start)), r.code, r.backend, errString(r.err)})
	}
	must(t, "write samples", WriteTSV(outDir(), "route-changes.tsv", []string{"start_ms", "duration_ms", "code", "backend", "error"}, rows))
	// Switch time: from the start of the update call to the first answer
	// from the new backend started after it.
	var switchLat []time.Duration
	var flipRows [][]any
	for i, f := range done {
		for _, r := range reqs {
			if r.start.After(f.at) && r.backend == f.target && !failed(r) {
				switchLat = append(switchLat, r.end.Sub(f.at))
				flipRows = append(flipRows, []any{i, f.target, Ms(r.end.Sub(f.at))})
				break
			}
		}
	}
	must(t, "write flips", WriteTSV(outDir(), "route-changes-flips.tsv", []string{"flip", "target", "switch_ms"}, flipRows))
	s := Summarize(switchLat)
	tb := &Table{Title: fmt.Sprintf("Route changes: %d flips 200 ms apart, client back to back", flips),
		Header: []string{"requests", "non-200", "answered by echo-a / echo-b", "flips seen in answers", "switch p50 ms", "switch max ms"}}
	tb.Add(len(reqs), errs, fmt.Sprintf("%d / %d", seen["echo-a"], seen["echo-b"]), fmt.Sprintf("%d of %d", len(switchLat), flips), Ms(s.P50), Ms(s.Max))
	report(t, "route-changes", tb)
	if errs != 0 {
		t.Errorf("%d of %d requests failed during route changes", errs, len(reqs))
	}
	if seen["echo-a"] == 0 || seen["echo-b"] == 0 {
		t.Errorf("traffic did not reach both backends: %v", seen)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
