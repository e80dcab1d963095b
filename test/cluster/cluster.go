package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gatehouse.dev/gatehouse/test/cluster/podsim"
)

// Fixed loopback ports, chosen away from the defaults of a real cluster so
// the harness never collides with one.
const (
	EtcdClientPort    = 23790
	EtcdPeerPort      = 23800
	APIServerPort     = 16443
	ControllerMgrPort = 10357
	KubeletPort       = 10250
)

// Network layout of the pods (see podsim).
const (
	BridgeName = "gh-br0"
	HostIP     = "10.244.0.1"
	PodCIDR    = "10.244.0.0/16"
)

// adminToken authenticates the harness and tests (system:masters).
const adminToken = "gatehouse-cluster-admin"

// Options configures Start. The zero value is a standard-channel cluster.
type Options struct {
	// Channel of the Gateway API CRDs: "standard" (default) or "experimental".
	Channel string
	// ExtraCRDDirs are applied after the Gateway API CRDs: every *.yaml,
	// *.yml and *.json file, CRDs first, then the other objects.
	ExtraCRDDirs []string
	// Images maps image repositories (or full references) to local
	// binaries for the pod simulator. The conformance echo-basic images
	// map to $GATEHOUSE_CACHE/bin/echo-basic unless overridden.
	Images map[string]string
	// Log receives the harness's progress messages; nil discards them.
	Log io.Writer
	// BinDir holds etcd, kube-apiserver, kube-controller-manager;
	// default $GATEHOUSE_CACHE/bin (see hack/cluster/build.sh).
	BinDir string
	// Dir is the cluster's working directory; default a new temp dir,
	// removed by Stop unless KeepDir (or env GATEHOUSE_CLUSTER_KEEP=1).
	Dir     string
	KeepDir bool
	// Authorization is the apiserver's --authorization-mode: "AlwaysAllow"
	// (default) or "RBAC", under which a process using
	// ServiceAccountKubeconfig gets only what is bound to its account (the
	// harness and tests keep system:masters).
	Authorization string
}

// Cluster is a running local cluster.
type Cluster struct {
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	// HostIP is the address pods use to reach services on the host
	// (the bridge address); host services must listen on it (or 0.0.0.0).
	HostIP string
	// Dir holds data, logs (logs/*.log) and pod roots (pods/).
	Dir string

	log     *slog.Logger
	procs   []*process // start order
	sim     *podsim.Simulator
	lock    *os.File
	tempDir bool
	keepDir bool
	stopped bool
}

// CacheDir is $GATEHOUSE_CACHE or ~/.cache/gatehouse.
func CacheDir() string {
	if d := os.Getenv("GATEHOUSE_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "gatehouse")
}

// Start brings up a cluster and returns once the CRDs are Established, the
// `default` ServiceAccount exists and the pod simulator runs.
func Start(ctx context.Context, o Options) (_ *Cluster, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("cluster: needs root (network namespaces, bridge)")
	}
	if o.Channel == "" {
		o.Channel = "standard"
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join(CacheDir(), "bin")
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, fmt.Errorf("cluster: %s missing in %s: run hack/cluster/build.sh", b, o.BinDir)
		}
	}
	var logOut io.Writer = io.Discard
	if o.Log != nil {
		logOut = o.Log
	}
	base := slog.New(slog.NewTextHandler(logOut, nil))
	c := &Cluster{HostIP: HostIP, log: base.With("component", "cluster"),
		keepDir: o.KeepDir || os.Getenv("GATEHOUSE_CLUSTER_KEEP") == "1"}
	waitStart := time.Now()
	if c.lock, err = lockHost(ctx); err != nil {
		return nil, err
	}
	if waited := time.Since(waitStart); waited > time.Second {
		c.log.Info("waited for another cluster on this host to stop", "waited", waited.Round(time.Millisecond))
	}
	begin := time.Now()
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.Dir = o.Dir; c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "gatehouse-cluster-"); err != nil {
			return nil, err
		}
		c.tempDir = true
	}
	if err := c.startControlPlane(ctx, o); err != nil {
		return nil, err
	}
	c.log.Info("apiserver ready", "elapsed", time.Since(begin).Round(time.Millisecond))
	kcm, err := c.startControllerManager(o)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, kcm)
	c.sim, err = podsim.Start(ctx, podsim.Config{
		Client:      c.Client,
		Dir:         filepath.Join(c.Dir, "pods"),
		Images:      withDefaultImages(o.Images, o.BinDir),
		HostPrefix:  netip.MustParsePrefix(HostIP + "/16"),
		Bridge:      BridgeName,
		KubeletAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(KubeletPort)),
		APIServer:   net.JoinHostPort("127.0.0.1", strconv.Itoa(APIServerPort)),
		Logger:      base.With("component", "podsim"),
	})
	if err != nil {
		return nil, err
	}
	if err := c.installCRDs(ctx, o); err != nil {
		return nil, err
	}
	c.log.Info("CRDs established", "elapsed", time.Since(begin).Round(time.Millisecond))
	if err := c.waitDefaultServiceAccount(ctx, kcm); err != nil {
		return nil, err
	}
	c.log.Info("cluster ready", "elapsed", time.Since(begin).Round(time.Millisecond), "kubeconfig", c.Kubeconfig)
	return c, nil
}

// withDefaultImages adds the conformance echo-basic images unless mapped.
func withDefaultImages(images map[string]string, binDir string) map[string]string {
	out := map[string]string{}
	echo := filepath.Join(binDir, "echo-basic")
	if _, err := os.Stat(echo); err == nil {
		out["registry.k8s.io/gateway-api/echo-basic"] = echo
		out["gcr.io/k8s-staging-gateway-api/echo-basic"] = echo
	}
	for k, v := range images {
		out[k] = v
	}
	return out
}

// Stop ends every process the harness started (by PID), removes the pod
// namespaces and the bridge, deletes the working directory and releases
// the host lock. It is safe to call more than once.
func (c *Cluster) Stop() error {
	if c == nil || c.stopped {
		return nil
	}
	c.stopped = true
	if c.sim != nil {
		c.sim.Stop()
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(10 * time.Second)
	}
	var err error
	if c.tempDir && !c.keepDir && c.Dir != "" {
		err = os.RemoveAll(c.Dir)
	} else if c.Dir != "" {
		c.log.Info("cluster directory kept", "dir", c.Dir)
	}
	if c.lock != nil {
		_ = syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
		c.lock.Close()
	}
	return err
}

// lockHost serialises clusters on this machine: ports, bridge and node
// names are fixed, so a second Start waits for the first Stop.
func lockHost(ctx context.Context) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "gatehouse-cluster-host.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("cluster: host lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("cluster: waiting for another cluster on this host to stop: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
