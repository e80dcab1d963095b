package controlplane

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// downWindow is one flap: the bad pod deleted at down, its replacement Ready
// (in the API) at up.
type downWindow struct {
	oldPod, newPod string
	down, up       time.Time
}

// flapGrace is how long after a replacement is Ready failures still count
// as the flap's (the proxy learns of the new endpoint through the
// controller).
const flapGrace = 2 * time.Second

// TestBackendFailover: one route to a Service with four endpoints, three
// healthy and one that flaps (its pod deleted every ~5 s; its Deployment
// recreates it); no retries configured. A client sends requests back to
// back for the duration (default 60 s). Reports how many requests failed,
// how many of them fell in the flapping endpoint's down windows, and how
// many the deleted pod still answered. Asserts that no request fails
// outside the down windows: the healthy endpoints must never be affected.
func TestBackendFailover(t *testing.T) {
	requireCluster(t)
	ns := "bench-failover"
	setupNamespace(t, ns)
	deleteNamespaces(t, ns)
	createGateway(t, ns, false)
	createEcho(t, ns, "good", 3, map[string]string{"failover": "member"}, "")
	createEcho(t, ns, "flap", 1, map[string]string{"failover": "member"}, "")
	_, err := env.kube.CoreV1().Services(ns).Create(bg(t), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pool"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"failover": "member"},
			Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(3000)}}},
	}, metav1.CreateOptions{})
	must(t, "Service pool", createIgnoringExists(err))
	addr := gatewayAddress(t, ns)
	host := "failover.example"
	_, err = env.gw.GatewayV1().HTTPRoutes(ns).Create(bg(t), simpleRoute(ns, "pool", ns, host, "pool"), metav1.CreateOptions{})
	must(t, "route", createIgnoringExists(err))
	waitServed(t, addr, host, "/", 2*time.Minute)
	waitAllEndpoints(t, addr, host, 4)

	c := startClient(addr, host, "/", 0)
	ctx, cancel := context.WithTimeout(bg(t), *flagFailover)
	defer cancel()
	windows := flapPod(t, ctx, ns)
	reqs := c.stop()
	analyseFailover(t, reqs, windows)
}

// waitAllEndpoints waits until n distinct pods have answered.
func waitAllEndpoints(t *testing.T, addr, host string, n int) {
	t.Helper()
	seen := map[string]bool{}
	for deadline := time.Now().Add(2 * time.Minute); len(seen) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d endpoints answered: %v", len(seen), n, seen)
		}
		if code, r, err := get(addr, host, "/"); err == nil && code == 200 {
			seen[r.Pod] = true
		}
	}
}

// flapPod deletes the flap Deployment's pod every ~5 s until ctx ends,
// recording when each was deleted and when its replacement was Ready.
func flapPod(t *testing.T, ctx context.Context, ns string) []downWindow {
	t.Helper()
	var windows []downWindow
	pods := env.kube.CoreV1().Pods(ns)
	for {
		select {
		case <-ctx.Done():
			return windows
		case <-time.After(5 * time.Second):
		}
		old := readyPod(ctx, ns, "")
		if old == "" {
			continue
		}
		w := downWindow{oldPod: old, down: time.Now()}
		if err := pods.Delete(context.Background(), old, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete %s: %v", old, err)
			continue
		}
		for w.newPod == "" {
			time.Sleep(50 * time.Millisecond)
			w.newPod = readyPod(context.Background(), ns, old)
			if time.Since(w.down) > time.Minute {
				t.Fatalf("no replacement for %s after 1m", old)
			}
		}
		w.up = time.Now()
		windows = append(windows, w)
	}
}

// readyPod returns a Ready, not terminating flap pod other than not.
func readyPod(ctx context.Context, ns, not string) string {
	list, err := env.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=flap"})
	if err != nil {
		return ""
	}
	for _, p := range list.Items {
		if p.Name != not && p.DeletionTimestamp == nil && podReady(&p) {
			return p.Name
		}
	}
	return ""
}

// windowOf returns the index of the down window (extended by flapGrace)
// that contains t, or -1.
func windowOf(windows []downWindow, t time.Time) int {
	for i, w := range windows {
		if !t.Before(w.down) && t.Before(w.up.Add(flapGrace)) {
			return i
		}
	}
	return -1
}

func analyseFailover(t *testing.T, reqs []request, windows []downWindow) {
	t.Helper()
	if len(reqs) == 0 {
		t.Fatal("the client sent no requests")
	}
	deleted := map[string]time.Time{}
	for _, w := range windows {
		deleted[w.oldPod] = w.down
	}
	var (
		rows                                [][]any
		failedIn, failedOut, toFlap, toGood int
		answeredByDeleted                   int
		perWindowFailed                     = make([]int, len(windows))
		lastFailure                         = make([]time.Duration, len(windows))
		failureKinds                        = map[string]int{}
	)
	t0 := reqs[0].start
	for _, r := range reqs {
		w := windowOf(windows, r.start)
		switch {
		case failed(r):
			failureKinds[failureKind(r)]++
			if w >= 0 {
				failedIn++
				perWindowFailed[w]++
				lastFailure[w] = max(lastFailure[w], r.end.Sub(windows[w].down))
			} else {
				failedOut++
			}
		case r.backend == "flap":
			toFlap++
			if d, ok := deleted[r.pod]; ok && r.start.After(d) {
				answeredByDeleted++
			}
		default:
			toGood++
		}
		rows = append(rows, []any{r.start.Sub(t0).Milliseconds(), Ms(r.end.Sub(r.start)), r.code, r.pod, w, errString(r.err)})
	}
	must(t, "write samples", WriteTSV(outDir(), "failover.tsv", []string{"start_ms", "duration_ms", "code", "pod", "window", "error"}, rows))
	var wrows [][]any
	var downFor []time.Duration
	for i, w := range windows {
		downFor = append(downFor, w.up.Sub(w.down))
		wrows = append(wrows, []any{i, w.oldPod, w.newPod, w.down.Sub(t0).Milliseconds(), w.up.Sub(t0).Milliseconds(), perWindowFailed[i], Ms(lastFailure[i])})
	}
	must(t, "write windows", WriteTSV(outDir(), "failover-windows.tsv",
		[]string{"flap", "deleted_pod", "replacement", "deleted_ms", "replacement_ready_ms", "failed", "last_failure_after_delete_ms"}, wrows))
	down := Summarize(downFor)
	var lastFail []time.Duration
	for i := range windows {
		if perWindowFailed[i] > 0 {
			lastFail = append(lastFail, lastFailure[i])
		}
	}
	lf := Summarize(lastFail)
	var kinds []string
	for k, v := range failureKinds {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, v))
	}
	tb := &Table{Title: fmt.Sprintf("Backend failover: 3 healthy + 1 flapping endpoint, no retries, %v, client back to back", *flagFailover),
		Header: []string{"requests", "flaps", "endpoint down p50 ms", "failed in down windows", "last failure after delete, max ms", "failed elsewhere",
			"answered by flapping pod", "answered by a deleted pod", "healthy pods answered", "failures"}}
	tb.Add(len(reqs), len(windows), Ms(down.P50), failedIn, Ms(lf.Max), failedOut, toFlap, answeredByDeleted, toGood, strings.Join(kinds, ", "))
	report(t, "failover", tb)
	if failedOut != 0 {
		t.Errorf("%d requests failed outside the flapping endpoint's down windows", failedOut)
	}
}

// failureKind names a failure for the summary: the status code, or the
// client-side error's last words.
func failureKind(r request) string {
	if r.err == nil {
		return fmt.Sprint(r.code)
	}
	s := r.err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
