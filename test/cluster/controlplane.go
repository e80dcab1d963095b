package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// KCM controllers: what Deployments, Services and namespaces need, and
// nothing that expects a kubelet. node-lifecycle stays off so the fake node
// is never tainted or evicted; root-ca-cert-publisher fills the
// kube-root-ca.crt ConfigMap that auto-mounted token volumes reference.
var controllers = []string{
	"deployment-controller", "replicaset-controller",
	"endpointslice-controller", "endpointslice-mirroring-controller", "endpoints-controller",
	"namespace-controller", "garbage-collector-controller",
	"serviceaccount-controller", "root-ca-certificate-publisher-controller",
}

func (c *Cluster) startControlPlane(ctx context.Context, o Options) error {
	logs := filepath.Join(c.Dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	keys, err := writePKI(c.Dir, net.ParseIP(HostIP))
	if err != nil {
		return fmt.Errorf("cluster: pki: %w", err)
	}
	tokens := filepath.Join(c.Dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(adminToken+",admin,admin,system:masters\n"), 0o600); err != nil {
		return err
	}
	if err := c.writeKubeconfig(keys.caPEM); err != nil {
		return err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", EtcdClientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", EtcdPeerPort)
	etcd, err := startProcess("etcd", filepath.Join(o.BinDir, "etcd"), filepath.Join(logs, "etcd.log"),
		"--name=gatehouse", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=gatehouse="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	c.procs = append(c.procs, etcd)
	api, err := startProcess(apiServerName, filepath.Join(o.BinDir, "kube-apiserver"),
		filepath.Join(logs, "kube-apiserver.log"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", APIServerPort),
		// The pod-facing host address: the `kubernetes` Service endpoints
		// point at the simulator's relay there instead of loopback.
		"--advertise-address="+HostIP,
		"--tls-cert-file="+keys.files["apiserver.crt"], "--tls-private-key-file="+keys.files["apiserver.key"],
		"--token-auth-file="+tokens, "--authorization-mode="+authorizationMode(o),
		"--service-account-key-file="+keys.files["sa.pub"],
		"--service-account-signing-key-file="+keys.files["sa.key"],
		"--service-account-issuer=https://kubernetes.default.svc",
		"--api-audiences=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
		"--enable-priority-and-fairness=false", "--profiling=false",
		// On SIGTERM, end open watches (within 5 s) instead of leaving
		// them to the HTTP server's shutdown, which waits for them until
		// --request-timeout (60 s): with clients connected, a stop would
		// otherwise take a minute (see StopAPIServer).
		"--shutdown-watch-termination-grace-period=5s",
		"--v=1")
	if err != nil {
		return err
	}
	c.procs = append(c.procs, api)
	if err := c.waitReadyz(ctx, etcd, api); err != nil {
		return err
	}
	return nil
}

// The apiserver's process name in c.procs.
const apiServerName = "kube-apiserver"

// procByName returns the index in c.procs of the process called name, or -1.
func (c *Cluster) procByName(name string) int {
	for i, p := range c.procs {
		if p.name == name {
			return i
		}
	}
	return -1
}

// StopAPIServer stops the kube-apiserver the way an orchestrator would
// (SIGTERM, SIGKILL after 30 s) and returns once it has exited. etcd, the
// controller manager and the pod simulator keep running, so every object
// survives; clients see their connections and watches end. Start it again
// with StartAPIServer. Not safe to call concurrently with the other
// lifecycle methods (Stop, StartAPIServer, RestartAPIServer).
func (c *Cluster) StopAPIServer() error {
	i := c.procByName(apiServerName)
	if c.stopped || i < 0 {
		return errors.New("cluster: no kube-apiserver to stop (cluster stopped?)")
	}
	c.procs[i].stop(30 * time.Second)
	c.log.Info("apiserver stopped", "pid", c.procs[i].pid())
	return nil
}

// StartAPIServer starts the kube-apiserver again after StopAPIServer, with
// exactly the arguments it first had, in the same place in the process list
// (so Stop still ends it after the controller manager), and returns once
// /readyz is ok. It does nothing if the apiserver is running.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	i := c.procByName(apiServerName)
	if c.stopped || i < 0 {
		return errors.New("cluster: no kube-apiserver to start (cluster stopped?)")
	}
	old := c.procs[i]
	if !old.exited() {
		return nil
	}
	api, err := old.restart()
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.procs[i] = api
	begin := time.Now()
	procs := []*process{api}
	if e := c.procByName("etcd"); e >= 0 {
		procs = append(procs, c.procs[e])
	}
	if err := c.waitReadyz(ctx, procs...); err != nil {
		return err
	}
	c.log.Info("apiserver ready again", "pid", api.pid(), "elapsed", time.Since(begin).Round(time.Millisecond))
	return nil
}

// RestartAPIServer stops the kube-apiserver (StopAPIServer), keeps it down
// for down and starts it again (StartAPIServer), returning once /readyz is
// ok. If ctx ends while it is down, the apiserver is still started again
// at once, so the cluster is never left without one, and ctx's error is
// returned.
func (c *Cluster) RestartAPIServer(ctx context.Context, down time.Duration) error {
	if err := c.StopAPIServer(); err != nil {
		return err
	}
	t := time.NewTimer(down)
	defer t.Stop()
	select {
	case <-ctx.Done():
		if err := c.StartAPIServer(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		return fmt.Errorf("cluster: apiserver restarted early: %w", ctx.Err())
	case <-t.C:
	}
	return c.StartAPIServer(ctx)
}

// APIServerPID is the process ID of the current kube-apiserver, or 0.
func (c *Cluster) APIServerPID() int {
	if i := c.procByName(apiServerName); i >= 0 {
		return c.procs[i].pid()
	}
	return 0
}

func (c *Cluster) writeKubeconfig(caPEM []byte) error {
	server := fmt.Sprintf("https://127.0.0.1:%d", APIServerPort)
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: gatehouse
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: gatehouse
  context: {cluster: gatehouse, user: admin}
current-context: gatehouse
`, server, base64.StdEncoding.EncodeToString(caPEM), adminToken)
	if err := os.WriteFile(c.Kubeconfig, []byte(kc), 0o600); err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host: server, BearerToken: adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS:             200, Burst: 400,
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	c.Client = cs
	return nil
}

// waitReadyz polls /readyz until the apiserver reports ready, failing fast
// with the log tail if etcd or the apiserver exits.
func (c *Cluster) waitReadyz(ctx context.Context, procs ...*process) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	rc := c.Client.Discovery().RESTClient()
	for {
		for _, p := range procs {
			if p.exited() {
				return fmt.Errorf("cluster: %s exited during start:\n%s", p.name, p.logTail())
			}
		}
		body, err := rc.Get().AbsPath("/readyz").Timeout(2 * time.Second).DoRaw(ctx)
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: apiserver not ready: %v (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) startControllerManager(o Options) (*process, error) {
	return startProcess("kube-controller-manager", filepath.Join(o.BinDir, "kube-controller-manager"),
		filepath.Join(c.Dir, "logs", "kube-controller-manager.log"),
		"--kubeconfig="+c.Kubeconfig,
		"--authentication-skip-lookup=true", "--authentication-kubeconfig="+c.Kubeconfig,
		"--authorization-kubeconfig="+c.Kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", ControllerMgrPort),
		"--leader-elect=false", "--use-service-account-credentials=false",
		"--service-account-private-key-file="+filepath.Join(c.Dir, "sa.key"),
		"--root-ca-file="+filepath.Join(c.Dir, "ca.crt"),
		"--controllers="+strings.Join(controllers, ","),
		"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
		"--concurrent-service-endpoint-syncs=10", "--v=1")
}

// waitDefaultServiceAccount waits for KCM to create default/default; the
// ServiceAccount admission plugin rejects pods before it exists.
func (c *Cluster) waitDefaultServiceAccount(ctx context.Context, kcm *process) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			c.log.Warn("waiting for default ServiceAccount", "err", err)
		}
		if kcm.exited() {
			return fmt.Errorf("cluster: kube-controller-manager exited:\n%s", kcm.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: default ServiceAccount: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
