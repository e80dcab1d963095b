package cluster_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"gatehouse.dev/gatehouse/test/cluster"
)

// TestAPIServerRestart: StopAPIServer and StartAPIServer bring back an
// apiserver with the same state; a pod that became ready while it was down
// gets its Ready status written once it is back (the simulator retries the
// write); the simulator runs pods created afterwards (its informers
// resumed); RestartAPIServer restarts it, also when its ctx has ended; Stop
// ends the last apiserver process.
func TestAPIServerRestart(t *testing.T) {
	c := startCluster(t)
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	ctx := context.Background()
	cs := c.Client
	const ns = "harness-restart"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "default ServiceAccount in "+ns, func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})

	// The pod's readiness probe asks this server (on the host's loopback),
	// so the test decides when the pod becomes ready.
	var ready atomic.Bool
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		}
	}))
	defer gate.Close()
	_, port, _ := net.SplitHostPort(gate.Listener.Addr().String())
	gatePort, _ := strconv.Atoi(port)
	createSleeper(t, c, ns, "gated", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Host: "127.0.0.1", Port: intstr.FromInt(gatePort), Path: "/ready"}}})
	poll(t, 30*time.Second, "pod gated running, not ready", func() (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "gated", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && !podReady(p), err
	})

	oldPID := c.APIServerPID()
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		t.Error("the apiserver answered after StopAPIServer")
	}
	ready.Store(true) // the pod becomes ready while nobody can record it
	time.Sleep(3 * time.Second)
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.StartAPIServer(startCtx); err != nil {
		t.Fatal(err)
	}
	newPID := c.APIServerPID()
	if newPID == 0 || newPID == oldPID || processAlive(oldPID) {
		t.Errorf("apiserver pid %d -> %d (old alive: %v), want a new process", oldPID, newPID, processAlive(oldPID))
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace lost across the restart: %v", err)
	}
	poll(t, 60*time.Second, "the readiness reached during the outage to be written", func() (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "gated", metav1.GetOptions{})
		return err == nil && podReady(p), err
	})
	createSleeper(t, c, ns, "after", nil)
	poll(t, 90*time.Second, "a pod created after the restart to run", func() (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "after", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && podReady(p), err
	})

	// RestartAPIServer composes the two; with ctx already ended it still
	// brings the apiserver back, and says it cut the downtime short.
	for _, tc := range []struct {
		name  string
		ended bool
	}{{"full downtime", false}, {"ctx ended", true}} {
		before := c.APIServerPID()
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
		if tc.ended {
			rcancel()
		}
		err := c.RestartAPIServer(rctx, time.Second)
		rcancel()
		switch {
		case tc.ended && !errors.Is(err, context.Canceled):
			t.Errorf("%s: RestartAPIServer = %v, want context.Canceled", tc.name, err)
		case !tc.ended && err != nil:
			t.Errorf("%s: RestartAPIServer = %v", tc.name, err)
		}
		if after := c.APIServerPID(); after == before {
			t.Errorf("%s: apiserver not restarted (pid %d)", tc.name, after)
		}
		poll(t, 30*time.Second, tc.name+": apiserver answering", func() (bool, error) {
			_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return err == nil, err
		})
	}
	newPID = c.APIServerPID()

	stopped = true
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if processAlive(newPID) {
		t.Errorf("restarted apiserver %d still running after Stop", newPID)
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cluster.APIServerPort)), time.Second); err == nil {
		conn.Close()
		t.Errorf("something still listens on the apiserver port after Stop")
	}
}

// createSleeper creates a bare pod running bash (mapped by startCluster)
// that sleeps, with the given readiness probe.
func createSleeper(t *testing.T, c *cluster.Cluster, ns, name string, readiness *corev1.Probe) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "sleep", Image: "example.com/bash", Command: []string{"bash", "-c", "sleep 3600"},
			ReadinessProbe: readiness,
		}}},
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
