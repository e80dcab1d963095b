package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"gatehouse.dev/gatehouse/internal/provision"
	"gatehouse.dev/gatehouse/test/cluster"
)

// The harness tests need root and the binaries from hack/cluster/build.sh;
// they take tens of seconds, so they only run when asked for.
func startCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	if os.Getenv("GATEHOUSE_CLUSTER_TESTS") != "1" {
		t.Skip("set GATEHOUSE_CLUSTER_TESTS=1 to run (needs root and hack/cluster/build.sh)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{
		Channel: "experimental",
		Images:  map[string]string{"example.com/bash": "/bin/bash"},
		Log:     testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster started in %s", time.Since(start).Round(time.Millisecond))
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// poll calls cond until it returns true, failing the test after timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}

func TestCluster(t *testing.T) {
	c := startCluster(t)
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	ctx := context.Background()
	cs := c.Client
	podNet := netip.MustParsePrefix(cluster.PodCIDR)

	for _, crd := range []string{"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io", "xbackendtrafficpolicies.gateway.networking.x-k8s.io"} {
		if _, err := cs.Discovery().RESTClient().Get().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).DoRaw(ctx); err != nil {
			t.Errorf("CRD %s: %v", crd, err)
		}
	}

	const ns = "harness-test"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "default ServiceAccount in "+ns, func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	createEcho(t, c, ns)

	var slice *discoveryv1.EndpointSlice
	poll(t, 60*time.Second, "a ready EndpointSlice endpoint in "+cluster.PodCIDR, func() (bool, error) {
		list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=echo"})
		if err != nil {
			return false, err
		}
		for i, s := range list.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready && len(ep.Addresses) > 0 &&
					podNet.Contains(netip.MustParseAddr(ep.Addresses[0])) {
					slice = &list.Items[i]
					return true, nil
				}
			}
		}
		return false, nil
	})
	ep := slice.Endpoints[0]
	podIP, podName := ep.Addresses[0], ep.TargetRef.Name

	t.Run("http to pod IP", func(t *testing.T) {
		resp, err := http.Get("http://" + net.JoinHostPort(podIP, "3000") + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var echo struct{ Path, Namespace, Pod string }
		if err := json.NewDecoder(resp.Body).Decode(&echo); err != nil {
			t.Fatal(err)
		}
		if echo.Path != "/hello" || echo.Namespace != ns || echo.Pod != podName {
			t.Errorf("echo = %+v, want path /hello namespace %s pod %s", echo, ns, podName)
		}
	})

	t.Run("container logs", func(t *testing.T) {
		poll(t, 10*time.Second, "pod logs", func() (bool, error) {
			out, err := cs.CoreV1().Pods(ns).GetLogs(podName, &corev1.PodLogOptions{Container: "echo"}).DoRaw(ctx)
			return strings.Contains(string(out), "Starting server"), err
		})
	})

	t.Run("loadbalancer ingress", func(t *testing.T) {
		poll(t, 20*time.Second, "LoadBalancer ingress", func() (bool, error) {
			svc, err := cs.CoreV1().Services(ns).Get(ctx, "echo", metav1.GetOptions{})
			if err != nil || len(svc.Status.LoadBalancer.Ingress) == 0 {
				return false, err
			}
			ip := svc.Status.LoadBalancer.Ingress[0].IP
			return podNet.Contains(netip.MustParseAddr(ip)), fmt.Errorf("ingress %s", ip)
		})
	})

	t.Run("loadbalancer static IPs", func(t *testing.T) { checkStaticIPs(t, c, ns) })
	t.Run("projected token", func(t *testing.T) { checkProjectedToken(t, c, ns) })
	t.Run("pod reaches host", func(t *testing.T) { checkPodToHost(t, c, ns) })

	echoPIDs := podPIDs(t, c, ns)
	t.Run("namespace deletion", func(t *testing.T) {
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(t, 90*time.Second, "namespace gone", func() (bool, error) {
			_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
		if n := podNamespaces(t); n != 0 {
			t.Errorf("%d pod network namespaces left after namespace deletion", n)
		}
		for _, pid := range echoPIDs {
			if processAlive(pid) {
				t.Errorf("pod process %d still running", pid)
			}
		}
	})

	t.Run("stop cleans up", func(t *testing.T) {
		dir := c.Dir
		stopped = true
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		if n := podNamespaces(t); n != 0 {
			t.Errorf("%d pod network namespaces left", n)
		}
		if exec.Command("ip", "link", "show", cluster.BridgeName).Run() == nil {
			t.Errorf("bridge %s left", cluster.BridgeName)
		}
		for _, port := range []int{cluster.EtcdClientPort, cluster.APIServerPort, cluster.ControllerMgrPort, cluster.KubeletPort} {
			if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
				conn.Close()
				t.Errorf("something still listens on 127.0.0.1:%d", port)
			}
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cluster dir %s left behind (err %v)", dir, err)
		}
	})
}

func createEcho(t *testing.T, c *cluster.Cluster, ns string) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "echo"}
	replicas := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "echo",
					Image: "registry.k8s.io/gateway-api/echo-basic:v1.5.1",
					Env: []corev1.EnvVar{
						{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(3000)},
					}},
				}}},
			},
		},
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: labels,
			Ports:    []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(3000), Protocol: corev1.ProtocolTCP}},
		},
	}
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// checkProjectedToken runs a pod with a projected token volume for an
// audience and checks that the token on disk is valid for that audience.
func checkProjectedToken(t *testing.T, c *cluster.Cluster, ns string) {
	ctx := context.Background()
	exp := int64(600)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "main", Image: "example.com/unmapped:v1",
				VolumeMounts: []corev1.VolumeMount{{Name: "gh-token", MountPath: "/var/run/secrets/tokens/gh-token"}},
			}},
			Volumes: []corev1.Volume{{Name: "gh-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience: "gatehouse", ExpirationSeconds: &exp, Path: "token",
				}}},
			}}}},
		},
	}
	created, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(c.Dir, "pods", fmt.Sprintf("%s_%s_%s", ns, pod.Name, created.UID))
	file := filepath.Join(root, "var/run/secrets/tokens/gh-token/token")
	poll(t, 30*time.Second, "token pod ready", func() (bool, error) {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	token, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	review, err := c.Client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: string(token), Audiences: []string{"gatehouse"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:"+ns+":default" {
		t.Errorf("token review = %+v, want authenticated as %s/default", review.Status, ns)
	}
}

// podPIDs returns the process IDs the simulator reports as container IDs.
func podPIDs(t *testing.T, c *cluster.Cluster, ns string) []int {
	pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range pods.Items {
		for _, st := range p.Status.ContainerStatuses {
			if pid, err := strconv.Atoi(strings.TrimPrefix(st.ContainerID, "podsim://")); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) < 2 {
		t.Errorf("want the pids of both echo pods, got %v", pids)
	}
	return pids
}

func processAlive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

func podNamespaces(t *testing.T) int {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(out), "ghpod-")
}

// checkPodToHost runs a bash "image" in a pod that calls an HTTP server the
// test serves on HostIP, passing its env, and that also connects to the
// apiserver relay.
func checkPodToHost(t *testing.T, c *cluster.Cluster, ns string) {
	ln, err := net.Listen("tcp", net.JoinHostPort(c.HostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	type hit struct{ remote, query string }
	hits := make(chan hit, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- hit{r.RemoteAddr, r.URL.RawQuery}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	script := `exec 4<>/dev/tcp/$KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT && api=ok; ` +
		`exec 3<>/dev/tcp/` + c.HostIP + `/` + port + ` && ` +
		`printf 'GET /?ip=%s&api=%s&tok=%s HTTP/1.0\r\n\r\n' "$MY_IP" "$api" "$(test -s "$GATEHOUSE_TOKEN_FILE" && echo yes)" >&3 && cat <&3`
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "caller", Namespace: ns},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "main", Image: "example.com/bash:latest", Command: []string{"bash", "-c", script},
			Env: []corev1.EnvVar{{Name: "MY_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
		}}},
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-hits:
		host, _, _ := net.SplitHostPort(h.remote)
		if h.query != "ip="+host+"&api=ok&tok=yes" {
			t.Errorf("pod request from %s with query %q, want ip=%s&api=ok&tok=yes", h.remote, h.query, host)
		}
		if !netip.MustParsePrefix(cluster.PodCIDR).Contains(netip.MustParseAddr(host)) {
			t.Errorf("request from %s, want a pod address", host)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no request from the pod to the host within 30s")
	}
}

// checkStaticIPs: a LoadBalancer Service asking for IPs gets those in the
// pool (and not the others), they reach a backend pod, and they are
// removed when the Service goes.
func checkStaticIPs(t *testing.T, c *cluster.Cluster, ns string) {
	ctx := context.Background()
	const usable, unusable = "10.244.0.200", "192.0.2.1"
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-static", Namespace: ns,
			Annotations: map[string]string{provision.LoadBalancerIPsAnnotation: unusable + "," + usable}},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "echo"},
			Ports:    []corev1.ServicePort{{Port: 3000, TargetPort: intstr.FromInt32(3000), Protocol: corev1.ProtocolTCP}},
		},
	}
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "static ingress", func() (bool, error) {
		got, err := c.Client.CoreV1().Services(ns).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		in := got.Status.LoadBalancer.Ingress
		return len(in) == 1 && in[0].IP == usable, fmt.Errorf("ingress %+v", in)
	})
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(usable, "3000") + "/static")
	if err != nil {
		t.Fatalf("the assigned static IP does not reach a pod: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET via %s = %d", usable, resp.StatusCode)
	}
	if err := c.Client.CoreV1().Services(ns).Delete(ctx, svc.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "static IP released", func() (bool, error) {
		out, err := exec.Command("ip", "-all", "netns", "exec", "ip", "-brief", "addr").CombinedOutput()
		return err == nil && !strings.Contains(string(out), usable+"/32"), fmt.Errorf("%v: %s", err, out)
	})
}
