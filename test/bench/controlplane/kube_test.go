package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/provision"
)

// bg is the context of API calls that must not outlive a scenario's test.
func bg(t *testing.T) context.Context { return t.Context() }

// must fails the test on err, naming what failed.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// createIgnoringExists treats AlreadyExists as success (a re-run against a
// kept cluster, or a shared GatewayClass).
func createIgnoringExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// setupNamespace creates ns (labelled bench=<ns>) and our GatewayClass.
func setupNamespace(t *testing.T, ns string) {
	t.Helper()
	_, err := env.kube.CoreV1().Namespaces().Create(bg(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{"bench": ns}}}, metav1.CreateOptions{})
	must(t, "namespace "+ns, createIgnoringExists(err))
	_, err = env.gw.GatewayV1().GatewayClasses().Create(bg(t), &gwv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "gatehouse"},
		Spec:       gwv1.GatewayClassSpec{ControllerName: controllerName}}, metav1.CreateOptions{})
	must(t, "GatewayClass", createIgnoringExists(err))
}

// deleteNamespaces deletes the scenario's namespaces when the test ends
// without waiting: the next scenario's Gateway is another one, and waiting
// for thousands of routes to be collected would only lengthen the run.
func deleteNamespaces(t *testing.T, names ...string) {
	t.Cleanup(func() {
		for _, ns := range names {
			err := env.kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Logf("delete namespace %s: %v", ns, err)
			}
		}
	})
}

// createGateway creates Gateway ns/gw with one HTTP listener on port 80;
// with allNamespaces, routes from every namespace may attach.
func createGateway(t *testing.T, ns string, allNamespaces bool) {
	t.Helper()
	l := gwv1.Listener{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}
	if allNamespaces {
		from := gwv1.NamespacesFromAll
		l.AllowedRoutes = &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &from}}
	}
	_, err := env.gw.GatewayV1().Gateways(ns).Create(bg(t), &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
		Spec:       gwv1.GatewaySpec{GatewayClassName: "gatehouse", Listeners: []gwv1.Listener{l}},
	}, metav1.CreateOptions{})
	must(t, "Gateway "+ns+"/gw", createIgnoringExists(err))
}

// createEcho creates a Deployment of echo-basic pods labelled app=name
// plus extra labels, and, unless service is empty, a Service of that name
// selecting app=<service> on port 8080.
func createEcho(t *testing.T, ns, name string, replicas int32, extra map[string]string, service string) {
	t.Helper()
	labels := map[string]string{"app": name}
	for k, v := range extra {
		labels[k] = v
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "echo", Image: echoImage,
					Env: []corev1.EnvVar{
						{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					},
					Ports: []corev1.ContainerPort{{ContainerPort: 3000}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(3000)}}},
				}}},
			},
		},
	}
	_, err := env.kube.AppsV1().Deployments(ns).Create(bg(t), dep, metav1.CreateOptions{})
	must(t, "Deployment "+ns+"/"+name, createIgnoringExists(err))
	if service == "" {
		return
	}
	_, err = env.kube.CoreV1().Services(ns).Create(bg(t), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: service},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": service},
			Ports:    []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(3000)}},
		},
	}, metav1.CreateOptions{})
	must(t, "Service "+ns+"/"+service, createIgnoringExists(err))
}

// backendRef is port 8080 of Service name.
func backendRef(name string) gwv1.HTTPBackendRef {
	port := gwv1.PortNumber(8080)
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{
		Name: gwv1.ObjectName(name), Port: &port}}}
}

// simpleRoute routes every request for host to service, attached to gwNS/gw.
func simpleRoute(ns, name, gwNS, host, service string) *gwv1.HTTPRoute {
	gwNamespace := gwv1.Namespace(gwNS)
	return &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw", Namespace: &gwNamespace}}},
			Hostnames:       []gwv1.Hostname{gwv1.Hostname(host)},
			Rules:           []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{backendRef(service)}}},
		},
	}
}

// benchRoute is the gateway-api-bench route shape: its own hostname, a
// PathPrefix /app rule to service with a request header modifier, and a `/`
// rule to a Service that does not exist (so requests outside /app get 500).
func benchRoute(ns, name, gwNS, host, service, headerValue string) *gwv1.HTTPRoute {
	r := simpleRoute(ns, name, gwNS, host, service)
	prefix := gwv1.PathMatchPathPrefix
	app, root := "/app", "/"
	r.Spec.Rules = []gwv1.HTTPRouteRule{
		{
			Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &app}}},
			Filters:     []gwv1.HTTPRouteFilter{headerFilter(headerValue)},
			BackendRefs: []gwv1.HTTPBackendRef{backendRef(service)},
		},
		{
			Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &root}}},
			Filters:     []gwv1.HTTPRouteFilter{headerFilter(headerValue)},
			BackendRefs: []gwv1.HTTPBackendRef{backendRef("missing-backend")},
		},
	}
	return r
}

func headerFilter(value string) gwv1.HTTPRouteFilter {
	return gwv1.HTTPRouteFilter{
		Type: gwv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gwv1.HTTPHeaderFilter{
			Set: []gwv1.HTTPHeader{{Name: "X-Bench", Value: value}},
		},
	}
}

// attachedRoutes sums status.listeners[].attachedRoutes.
func attachedRoutes(g *gwv1.Gateway) int {
	n := 0
	for _, l := range g.Status.Listeners {
		n += int(l.AttachedRoutes)
	}
	return n
}

// gatewayAddress waits until Gateway ns/gw is Programmed with an address
// and its proxy answers (a 404 for an unknown host).
func gatewayAddress(t *testing.T, ns string) string {
	t.Helper()
	var addr string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		g, err := env.gw.GatewayV1().Gateways(ns).Get(bg(t), "gw", metav1.GetOptions{})
		if err == nil && meta.IsStatusConditionTrue(g.Status.Conditions, "Programmed") && len(g.Status.Addresses) > 0 {
			addr = g.Status.Addresses[0].Value
			if code, _, err := get(addr, "no-such-host.invalid", "/"); err == nil && code == 404 {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Gateway %s/gw not serving after 3m (last error %v)", ns, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitServed polls host/path until it answers 200.
func waitServed(t *testing.T, addr, host, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, _, err := get(addr, host, path)
		if err == nil && code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%s not served after %v: code %d err %v", host, path, timeout, code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpc is the benchmark's client. Its timeout is above the proxy's own
// (5 s dial timeout), so the proxy's answer is what gets recorded.
var httpc = &http.Client{
	Timeout: 15 * time.Second,
	Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	},
}

// echoReply is the part of echo-basic's JSON answer the scenarios read.
type echoReply struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
}

// get sends GET http://addr:80/path with Host host and returns the status
// and, for a 200, the echo reply.
func get(addr, host, path string) (int, echoReply, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(addr, "80")+path, nil)
	req.Host = host
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, echoReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var r echoReply
	if err == nil && resp.StatusCode == 200 {
		err = json.Unmarshal(b, &r)
	}
	return resp.StatusCode, r, err
}

// proxyPID finds the simulated proxy process serving gateway ns/name (its
// command line is `gatehouse proxy ... --gateway ns/name ...`).
func proxyPID(gateway string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(cmd), "\x00")
		if len(args) < 2 || args[1] != "proxy" {
			continue
		}
		for i := range len(args) - 1 {
			if args[i] == "--gateway" && args[i+1] == gateway {
				return pid
			}
		}
	}
	return -1
}

// proxyMetricsURL is the /metrics of a ready proxy pod of Gateway ns/gw (on
// the pod IP, at provision.AdminPort), or "" if there is none.
func proxyMetricsURL(ctx context.Context, ns string) string {
	pods, err := env.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Name, "gw-gatehouse-") || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		return "http://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(provision.AdminPort)) + "/metrics"
	}
	return ""
}

// controllerMetrics scrapes the controller's /metrics.
func controllerMetrics(ctx context.Context) (map[string]float64, error) {
	return ScrapeMetrics(ctx, httpc, "http://"+env.adminAddr+"/metrics")
}

// podReady reports whether the pod's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// outDir is the scenario's output directory.
func outDir() string { return env.outDir }

// report prints tables to the test log and stdout (so `go test` without -v
// still shows them) and writes them to <out>/<name>.md.
func report(t *testing.T, name string, tables ...*Table) {
	t.Helper()
	var b strings.Builder
	for _, tb := range tables {
		b.WriteString(tb.String())
		b.WriteString("\n")
	}
	fmt.Printf("\n%s", b.String())
	if err := os.MkdirAll(outDir(), 0o755); err == nil {
		_ = os.WriteFile(outDir()+"/"+name+".md", []byte(b.String()), 0o644)
	}
}
