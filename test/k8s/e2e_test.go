package k8s

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"gatehouse.dev/gatehouse/test/cluster"
)

// TestGatewayEndToEnd: a Gateway is provisioned, becomes Programmed with an
// address, routes attach with the right status, and traffic flows through the
// provisioned proxy to the echo pods.
func TestGatewayEndToEnd(t *testing.T) {
	requireCluster(t)
	ns := "e2e-basic"
	apply(t, ns, baseManifests()+"---\n"+route("to-a", "a.example.com", "echo-a")+"---\n"+route("to-b", "b.example.com", "echo-b"))
	addr := gatewayAddress(t, ns, "gw")
	for host, want := range map[string]string{"a.example.com": "echo-a", "b.example.com": "echo-b"} {
		waitFor(t, "traffic for "+host, 60*time.Second, func() (bool, error) {
			code, r, err := get(addr, host, "/hello")
			if err != nil || code != 200 {
				return false, fmt.Errorf("code %d err %v", code, err)
			}
			return strings.HasPrefix(r.Pod, want) && r.Path == "/hello", fmt.Errorf("reply %+v", r)
		})
	}
	if c := routeCondition(t, ns, "to-a", "Accepted"); c == nil || c.Status != "True" {
		t.Errorf("route Accepted: %+v", c)
	}
	if c := routeCondition(t, ns, "to-a", "ResolvedRefs"); c == nil || c.Status != "True" {
		t.Errorf("route ResolvedRefs: %+v", c)
	}
	if l := listenerStatus(t, ns, "gw", "http"); l == nil || l.AttachedRoutes != 2 {
		t.Errorf("listener attachedRoutes: %+v", l)
	}
	if code, _, _ := get(addr, "unknown.example.com", "/"); code != 404 {
		t.Errorf("unknown host: %d, want 404", code)
	}
	// The provisioned objects exist and are owned by the Gateway.
	dep, err := env.cluster.Client.AppsV1().Deployments(ns).Get(context.Background(), "gw-gatehouse", metav1.GetOptions{})
	if err != nil || len(dep.OwnerReferences) != 1 || dep.OwnerReferences[0].Kind != "Gateway" {
		t.Errorf("provisioned Deployment: %v %+v", err, dep)
	}
}

// TestRouteChangeWithoutErrors flips a route between two backends 10 times
// while a client loops: every request must get a 200.
func TestRouteChangeWithoutErrors(t *testing.T) {
	requireCluster(t)
	ns := "e2e-flip"
	apply(t, ns, baseManifests()+"---\n"+route("flip", "flip.example.com", "echo-a"))
	addr := gatewayAddress(t, ns, "gw")
	waitFor(t, "first traffic", 60*time.Second, func() (bool, error) {
		code, _, err := get(addr, "flip.example.com", "/")
		return code == 200, err
	})
	l := startLoop(addr, "flip.example.com")
	for i := 0; i < 10; i++ {
		svc := []string{"echo-b", "echo-a"}[i%2]
		apply(t, ns, route("flip", "flip.example.com", svc))
		time.Sleep(200 * time.Millisecond)
	}
	failures, total, seen := l.stop()
	if failures != 0 {
		t.Fatalf("%d of %d requests failed during route changes", failures, total)
	}
	if !seen["echo-a"] || !seen["echo-b"] {
		t.Fatalf("traffic did not reach both backends (%v) in %d requests", seen, total)
	}
}

// TestControllerRestartDropsNothing kills the controller (SIGKILL) while a
// client loops through a proxy, restarts it, and checks that no request
// failed and the proxy reconnected and converged on new config.
func TestControllerRestartDropsNothing(t *testing.T) {
	requireCluster(t)
	ns := "e2e-restart"
	apply(t, ns, baseManifests()+"---\n"+route("r", "restart.example.com", "echo-a"))
	addr := gatewayAddress(t, ns, "gw")
	waitFor(t, "first traffic", 60*time.Second, func() (bool, error) {
		code, _, err := get(addr, "restart.example.com", "/")
		return code == 200, err
	})
	l := startLoop(addr, "restart.example.com")
	stopController(syscall.SIGKILL)
	time.Sleep(2 * time.Second) // the proxy serves alone
	if err := startController(); err != nil {
		t.Fatal(err)
	}
	// New config after the restart reaches the reconnected proxy.
	apply(t, ns, route("r2", "after.example.com", "echo-b"))
	waitFor(t, "route added after the restart", 60*time.Second, func() (bool, error) {
		code, r, err := get(addr, "after.example.com", "/")
		return code == 200 && strings.HasPrefix(r.Pod, "echo-b"), err
	})
	failures, total, _ := l.stop()
	if failures != 0 || total == 0 {
		t.Fatalf("%d of %d requests failed across a controller restart", failures, total)
	}
}

// TestForeignClassIgnored: a Gateway of another controller is not
// provisioned and gets no status from us.
func TestForeignClassIgnored(t *testing.T) {
	requireCluster(t)
	ns := "e2e-foreign"
	apply(t, ns, `apiVersion: v1
kind: Namespace
metadata: {name: NAMESPACE}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: someone-else}
spec: {controllerName: example.com/other-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: theirs, namespace: NAMESPACE}
spec:
  gatewayClassName: someone-else
  listeners: [{name: http, port: 80, protocol: HTTP}]
`)
	time.Sleep(3 * time.Second)
	g, err := gw(t).GatewayV1().Gateways(ns).Get(context.Background(), "theirs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Status.Listeners) != 0 || len(g.Status.Addresses) != 0 {
		t.Errorf("foreign Gateway got status: %+v", g.Status)
	}
	for _, c := range g.Status.Conditions {
		if c.Reason != "Pending" {
			t.Errorf("foreign Gateway condition changed: %+v", c)
		}
	}
	if _, err := env.cluster.Client.AppsV1().Deployments(ns).Get(context.Background(), "theirs-gatehouse", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("foreign Gateway was provisioned: %v", err)
	}
	gc, err := gw(t).GatewayV1().GatewayClasses().Get(context.Background(), "someone-else", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range gc.Status.Conditions {
		if c.Reason != "Pending" {
			t.Errorf("foreign GatewayClass condition changed: %+v", c)
		}
	}
}

// TestUnservableObjectsGetConditions: a UDP listener, a certificate Secret
// with garbage and a port the proxy cannot open get the spec's reasons; the
// HTTP listener keeps serving.
func TestUnservableObjectsGetConditions(t *testing.T) {
	requireCluster(t)
	ns := "e2e-bad"
	apply(t, ns, baseManifests(httpListeners,
		"  - {name: udp, port: 9000, protocol: UDP}\n",
		"  - {name: clash, port: 15000, protocol: HTTP}\n", // the proxy's own admin port
		"  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: junk}]}}\n")+
		"---\n"+route("ok", "ok.example.com", "echo-a")+`---
apiVersion: v1
kind: Secret
metadata: {name: junk, namespace: NAMESPACE}
type: kubernetes.io/tls
stringData: {tls.crt: "not a certificate", tls.key: "not a key"}
`)
	addr := gatewayAddress(t, ns, "gw")
	waitFor(t, "listener conditions", 30*time.Second, func() (bool, error) {
		udp := listenerStatus(t, ns, "gw", "udp")
		https := listenerStatus(t, ns, "gw", "https")
		clash := listenerStatus(t, ns, "gw", "clash")
		if udp == nil || https == nil || clash == nil {
			return false, fmt.Errorf("listeners missing")
		}
		reasons := map[string]string{}
		for _, c := range udp.Conditions {
			reasons["udp/"+c.Type] = c.Reason
		}
		for _, c := range https.Conditions {
			reasons["https/"+c.Type] = c.Reason
		}
		for _, c := range clash.Conditions {
			reasons["clash/"+c.Type] = c.Reason
		}
		ok := reasons["udp/Accepted"] == "UnsupportedProtocol" && reasons["https/ResolvedRefs"] == "InvalidCertificateRef" &&
			reasons["clash/Accepted"] == "PortUnavailable"
		return ok, fmt.Errorf("reasons %v", reasons)
	})
	waitFor(t, "HTTP listener still serving", 60*time.Second, func() (bool, error) {
		code, _, err := get(addr, "ok.example.com", "/")
		return code == 200, err
	})
}

// TestPropagationLatency adds 100 routes one at a time through the API
// server and records the time from apply to the first 200 through the
// proxy. It logs p50/p99 (the numbers for the closing note); it asserts only
// that every route was served and no error status was seen.
func TestPropagationLatency(t *testing.T) {
	requireCluster(t)
	ns := "e2e-latency"
	apply(t, ns, baseManifests())
	addr := gatewayAddress(t, ns, "gw")
	var lat []time.Duration
	errors := 0
	for i := 0; i < 100; i++ {
		host := fmt.Sprintf("r%d.example.com", i)
		start := time.Now()
		createRoute(t, ns, fmt.Sprintf("r%d", i), host, "echo-a")
		for {
			code, _, err := get(addr, host, "/")
			if err == nil && code == 200 {
				break
			}
			if err != nil || code != 404 {
				errors++
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("route %d not served after 30s", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	t.Logf("apply -> first 200 over 100 routes: p50 %v, p99 %v, max %v", lat[50], lat[98], lat[99])
	t.Logf("memory with %d routes: controller RSS %s, proxy RSS %s", 100, rss(env.ctrl.Process.Pid), rss(proxyPID(t, ns+"/gw")))
	if errors != 0 {
		t.Errorf("%d non-404/200 answers while routes appeared", errors)
	}
}

// TestLeaderElection: a second replica stands by (serving xDS, writing no
// status); when the leader stops, it takes over and writes status.
func TestLeaderElection(t *testing.T) {
	requireCluster(t)
	ns := "e2e-leader"
	apply(t, ns, baseManifests()+"---\n"+route("before", "before.example.com", "echo-a"))
	gatewayAddress(t, ns, "gw")
	adminAddr := fmt.Sprintf("127.0.0.1:%d", cluster.FreePort("127.0.0.1"))
	xdsAddr := fmt.Sprintf("%s:%d", env.cluster.HostIP, cluster.FreePort(env.cluster.HostIP))
	standby, err := runController("ctrl-2", xdsAddr, adminAddr, env.ctrlLog)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = standby.Process.Signal(syscall.SIGTERM)
		_ = standby.Wait()
	}()
	lease, err := env.cluster.Client.CoordinationV1().Leases(controllerNamespace).Get(context.Background(), "gatehouse-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "ctrl-1" {
		t.Fatalf("lease holder: %v %+v", err, lease)
	}
	// The leader stops (releasing the Lease); the standby takes over and
	// writes the status of a route created afterwards.
	stopController(syscall.SIGTERM)
	defer func() {
		if err := startController(); err != nil {
			t.Errorf("restart ctrl-1: %v", err)
		}
	}()
	waitFor(t, "standby to take the lease", 40*time.Second, func() (bool, error) {
		l, err := env.cluster.Client.CoordinationV1().Leases(controllerNamespace).Get(context.Background(), "gatehouse-controller", metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "ctrl-2", err
	})
	apply(t, ns, route("after", "after.example.com", "echo-b"))
	waitFor(t, "status written by the new leader", 30*time.Second, func() (bool, error) {
		c := routeCondition(t, ns, "after", "Accepted")
		return c != nil && c.Status == "True", nil
	})
}

// rss returns the resident set size of a process from /proc.
func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:"))
		}
	}
	return "unknown"
}

// proxyPID finds the simulated proxy process serving gateway.
func proxyPID(t *testing.T, gateway string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(cmd), "\x00")
		if len(args) > 1 && args[1] == "proxy" && strings.Contains(string(cmd), gateway) {
			return pid
		}
	}
	return -1
}

// loop is a client sending requests back to back until stopped.
type loop struct {
	quit, done      chan struct{}
	failures, total int64
	seen            map[string]bool // Deployment names that answered
}

func startLoop(addr, host string) *loop {
	l := &loop{quit: make(chan struct{}), done: make(chan struct{}), seen: map[string]bool{}}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.quit:
				return
			default:
			}
			code, r, err := get(addr, host, "/")
			l.total++
			if err != nil || code != 200 {
				l.failures++
				continue
			}
			if parts := strings.SplitN(r.Pod, "-", 3); len(parts) == 3 {
				l.seen[parts[0]+"-"+parts[1]] = true
			}
		}
	}()
	return l
}

// stop ends the loop and returns its failures, total and answering backends.
func (l *loop) stop() (int64, int64, map[string]bool) {
	close(l.quit)
	<-l.done
	return l.failures, l.total, l.seen
}

// TestTrafficPolicy: a TrafficPolicy applied through the API server reaches
// the proxy (authorization from CEL) and gets GEP-713 ancestor status.
func TestTrafficPolicy(t *testing.T) {
	requireCluster(t)
	ns := "e2e-policy"
	apply(t, ns, baseManifests()+"---\n"+route("guarded", "guarded.example.com", "echo-a")+`---
apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: key-required, namespace: NAMESPACE}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: guarded}]
  authorization:
    require: ['request.headers["x-api-key"] == "s3cret"']
`)
	addr := gatewayAddress(t, ns, "gw")
	waitFor(t, "policy enforced", 60*time.Second, func() (bool, error) {
		code, _, err := get(addr, "guarded.example.com", "/")
		return code == 403, fmt.Errorf("code %d err %v", code, err)
	})
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = "guarded.example.com"
	req.Header.Set("X-Api-Key", "s3cret")
	resp, err := httpc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("with the key: %v %v", resp, err)
	}
	resp.Body.Close()
	waitFor(t, "policy ancestor status", 30*time.Second, func() (bool, error) {
		u, err := dynamic.NewForConfigOrDie(env.cluster.Config).Resource(schema.GroupVersionResource{
			Group: "gatehouse.dev", Version: "v1alpha1", Resource: "trafficpolicies"}).Namespace(ns).Get(context.Background(), "key-required", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ancestors, _, _ := unstructured.NestedSlice(u.Object, "status", "ancestors")
		return len(ancestors) == 1 && strings.Contains(fmt.Sprint(ancestors), "Accepted"), fmt.Errorf("ancestors %v", ancestors)
	})
}
