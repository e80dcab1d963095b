package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	"sigs.k8s.io/yaml"
)

const echoImage = "registry.k8s.io/gateway-api/echo-basic:v1.5.1"

func requireCluster(t *testing.T) {
	t.Helper()
	if env.cluster == nil {
		t.Skip("cluster tests need GATEHOUSE_CLUSTER_TESTS=1")
	}
}

func gw(t *testing.T) gwclient.Interface {
	t.Helper()
	c, err := gwclient.NewForConfig(env.cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apply server-side applies YAML documents (with %s replaced by ns).
func apply(t *testing.T, ns, docs string) {
	t.Helper()
	docs = strings.ReplaceAll(docs, "NAMESPACE", ns)
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("manifest: %v\n%s", err, doc)
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := env.cluster.Apply(ctx, objs...); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

const gatewayClass = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatehouse}
spec: {controllerName: gatehouse.dev/gateway-controller}
`

const httpListeners = `  - {name: http, port: 80, protocol: HTTP}
`

// baseManifests: a namespace, our GatewayClass, a Gateway "gw" with the
// given listeners (httpListeners when empty), and two echo Deployments with
// Services.
func baseManifests(listeners ...string) string {
	ls := strings.Join(listeners, "")
	if ls == "" {
		ls = httpListeners
	}
	return `apiVersion: v1
kind: Namespace
metadata: {name: NAMESPACE}
---
` + gatewayClass + `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: NAMESPACE}
spec:
  gatewayClassName: gatehouse
  listeners:
` + ls + `---
` + echo("echo-a") + "---\n" + echo("echo-b")
}

// createRoute creates an HTTPRoute with the typed client (one API call, no
// discovery), for latency measurements.
func createRoute(t *testing.T, ns, name, host, service string) {
	t.Helper()
	port := gwv1.PortNumber(8080)
	r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
			Hostnames:       []gwv1.Hostname{gwv1.Hostname(host)},
			Rules: []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
				BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(service), Port: &port}}}}}},
		}}
	if _, err := gw(t).GatewayV1().HTTPRoutes(ns).Create(context.Background(), r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func echo(name string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: NAMESPACE}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: echo
        image: %[2]s
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        ports: [{containerPort: 3000}]
        readinessProbe: {httpGet: {path: /, port: 3000}}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: NAMESPACE}
spec:
  selector: {app: %[1]s}
  ports: [{port: 8080, targetPort: 3000}]
`, name, echoImage)
}

func route(name, host, service string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: NAMESPACE}
spec:
  parentRefs: [{name: gw}]
  hostnames: [%q]
  rules:
  - backendRefs: [{name: %s, port: 8080}]
`, name, host, service)
}

// waitFor polls cond every 50ms until it returns true or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
}

// gatewayAddress waits until the Gateway is Programmed with an address.
func gatewayAddress(t *testing.T, ns, name string) string {
	t.Helper()
	var addr string
	waitFor(t, "Gateway "+ns+"/"+name+" programmed with an address", 90*time.Second, func() (bool, error) {
		g, err := gw(t).GatewayV1().Gateways(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if !meta.IsStatusConditionTrue(g.Status.Conditions, "Programmed") || len(g.Status.Addresses) == 0 {
			return false, fmt.Errorf("status %+v", g.Status.Conditions)
		}
		addr = g.Status.Addresses[0].Value
		return true, nil
	})
	return addr
}

var httpc = &http.Client{Timeout: 5 * time.Second}

type echoReply struct {
	Path      string `json:"path"`
	Host      string `json:"host"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
}

// get sends GET http://addr:80/path with Host host.
func get(addr, host, path string) (int, echoReply, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Host = host
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, echoReply{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r echoReply
	if resp.StatusCode == 200 {
		_ = json.Unmarshal(b, &r)
	}
	return resp.StatusCode, r, nil
}

func routeCondition(t *testing.T, ns, name, typ string) *metav1.Condition {
	t.Helper()
	r, err := gw(t).GatewayV1().HTTPRoutes(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	for _, p := range r.Status.Parents {
		if p.ControllerName == "gatehouse.dev/gateway-controller" {
			return meta.FindStatusCondition(p.Conditions, typ)
		}
	}
	return nil
}

func listenerStatus(t *testing.T, ns, name, listener string) *gwv1.ListenerStatus {
	t.Helper()
	g, err := gw(t).GatewayV1().Gateways(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range g.Status.Listeners {
		if string(g.Status.Listeners[i].Name) == listener {
			return &g.Status.Listeners[i]
		}
	}
	return nil
}
