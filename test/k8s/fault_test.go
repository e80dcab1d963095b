package k8s

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// apiServerDowntime is how long TestAPIServerRestart keeps the apiserver
// down: longer than the controller's lease renew deadline (10 s), so the
// leader loses the Lease while it is away and has to win it back.
const apiServerDowntime = 10 * time.Second

// TestAPIServerRestart stops the kube-apiserver for apiServerDowntime (etcd
// keeps the state) while a client loops through a provisioned proxy. No
// request may fail during or after the outage: the proxy keeps the config it
// has and the controller keeps serving it. The controller must not exit; a
// change cannot be made while the apiserver is down, and one made right
// after it is back must be served and get its status from the controller
// (watches resumed, leadership and status writes recovered).
func TestAPIServerRestart(t *testing.T) {
	requireCluster(t)
	ns := "e2e-apiserver"
	apply(t, ns, baseManifests()+"---\n"+route("before", "before.example.com", "echo-a"))
	addr := gatewayAddress(t, ns, "gw")
	waitFor(t, "first traffic", 60*time.Second, func() (bool, error) {
		code, _, err := get(addr, "before.example.com", "/")
		return code == 200, err
	})
	waitFor(t, "status of the first route", 30*time.Second, func() (bool, error) {
		c := routeCondition(t, ns, "before", "Accepted")
		return c != nil && c.Status == "True", fmt.Errorf("Accepted %+v", c)
	})
	ctrlPID := env.ctrl.Process.Pid
	apiPID := env.cluster.APIServerPID()

	during := startLoop(addr, "before.example.com")
	stoppedAt := time.Now()
	env.apiserverStopped = time.Now() // RBAC denials from here on are the restart's (main_test.go)
	if err := env.cluster.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() { // never leave the following tests without an apiserver
		if !restarted {
			if err := env.cluster.StartAPIServer(context.Background()); err != nil {
				t.Errorf("restart the apiserver after a failure: %v", err)
			}
		}
	}()
	t.Logf("apiserver (pid %d) stopped in %v", apiPID, time.Since(stoppedAt).Round(time.Millisecond))

	// While it is down no change can be made: the write is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := gw(t).GatewayV1().HTTPRoutes(ns).Create(ctx, httpRoute(ns, "during", "during.example.com", "echo-b"), metav1.CreateOptions{})
	cancel()
	if err == nil {
		t.Fatal("an HTTPRoute was created while the apiserver was down")
	}
	t.Logf("change while the apiserver is down fails as it must: %v", err)
	time.Sleep(apiServerDowntime - time.Since(stoppedAt))
	if err := controllerAlive(ctrlPID); err != nil {
		t.Fatalf("controller during the outage: %v", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := env.cluster.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	readyAt := time.Now()
	outFailures, outTotal, _ := during.stop()
	after := startLoop(addr, "before.example.com")
	t.Logf("apiserver down %v (stop to ready, pid %d -> %d); requests during the outage: %d sent, %d failed",
		readyAt.Sub(stoppedAt).Round(time.Millisecond), apiPID, env.cluster.APIServerPID(), outTotal, outFailures)

	// A change made right after the apiserver is back reaches the proxy
	// (the controller's watches resumed) and gets status (it leads again
	// and writes).
	createRoute(t, ns, "after", "after.example.com", "echo-b")
	waitFor(t, "route created after the restart to be served", 60*time.Second, func() (bool, error) {
		code, r, err := get(addr, "after.example.com", "/")
		return code == 200 && strings.HasPrefix(r.Pod, "echo-b"), fmt.Errorf("code %d err %v", code, err)
	})
	served := time.Since(readyAt)
	waitFor(t, "status of the route created after the restart", 60*time.Second, func() (bool, error) {
		c := routeCondition(t, ns, "after", "Accepted")
		return c != nil && c.Status == "True", fmt.Errorf("Accepted %+v", c)
	})
	accepted := time.Since(readyAt)
	t.Logf("apiserver ready -> new route served: %v; -> its Accepted=True written: %v",
		served.Round(time.Millisecond), accepted.Round(time.Millisecond))

	time.Sleep(2 * time.Second) // keep traffic going after the recovery too
	afterFailures, afterTotal, _ := after.stop()
	t.Logf("requests after the restart: %d sent, %d failed", afterTotal, afterFailures)
	if outFailures != 0 || outTotal == 0 {
		t.Errorf("%d of %d requests failed while the apiserver was down", outFailures, outTotal)
	}
	if afterFailures != 0 || afterTotal == 0 {
		t.Errorf("%d of %d requests failed after the apiserver came back", afterFailures, afterTotal)
	}
	if env.ctrl.Process.Pid != ctrlPID {
		t.Errorf("controller replaced during the test (pid %d -> %d)", ctrlPID, env.ctrl.Process.Pid)
	}
	if err := controllerAlive(ctrlPID); err != nil {
		t.Errorf("controller after the outage: %v", err)
	}
}

// httpRoute is the HTTPRoute createRoute creates, as an object.
func httpRoute(ns, name, host, service string) *gwv1.HTTPRoute {
	port := gwv1.PortNumber(8080)
	return &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
			Hostnames:       []gwv1.Hostname{gwv1.Hostname(host)},
			Rules: []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
				BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(service), Port: &port}}}}}},
		}}
}

// controllerAlive checks that the controller process pid has not exited
// (nothing reaps it during a test, so an exited one is a zombie) and that it
// still answers on its admin /healthz.
func controllerAlive(pid int) error {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	// Format: pid (comm) state ...; comm may contain spaces.
	if i := strings.LastIndexByte(string(stat), ')'); i < 0 || len(stat) < i+3 || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return fmt.Errorf("process %d exited (stat %q)", pid, strings.TrimSpace(string(stat)))
	}
	resp, err := httpc.Get("http://" + env.adminAddr + "/healthz")
	if err != nil {
		return fmt.Errorf("admin /healthz: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin /healthz: %s", resp.Status)
	}
	return nil
}
