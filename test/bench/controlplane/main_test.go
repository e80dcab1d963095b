package controlplane

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"gatehouse.dev/gatehouse/test/cluster"
)

// Sizes and durations of the scenarios; the defaults are the
// gateway-api-bench sizes. Pass them after -args, or through the
// environment variables named in README.md.
var (
	flagOut            = flag.String("out", envOr("BENCH_OUT", ""), "output directory (default out/<UTC stamp>)")
	flagAttachedRoutes = flag.Int("attached-routes", envInt("BENCH_ATTACHED_ROUTES", 1000), "attached routes: routes created at once")
	flagPropRoutes     = flag.Int("propagation-routes", envInt("BENCH_PROPAGATION_ROUTES", 3000), "propagation: routes added one at a time")
	flagFlips          = flag.Int("flips", envInt("BENCH_FLIPS", 20), "route changes: number of flips")
	flagChurnNS        = flag.Int("churn-namespaces", envInt("BENCH_CHURN_NAMESPACES", 50), "churn: namespaces")
	flagChurnRoutes    = flag.Int("churn-routes", envInt("BENCH_CHURN_ROUTES", 100), "churn: routes per namespace")
	flagChurnDuration  = flag.Duration("churn-duration", envDuration("BENCH_CHURN_DURATION", 10*time.Minute), "churn: how long to churn")
	flagFailover       = flag.Duration("failover-duration", envDuration("BENCH_FAILOVER_DURATION", 60*time.Second), "failover: how long to send requests")
)

const (
	proxyImage     = "ghcr.io/gatehouse-dev/gatehouse"
	echoImage      = "registry.k8s.io/gateway-api/echo-basic:v1.5.1"
	controllerName = "gatehouse.dev/gateway-controller"
)

// env is the cluster and controller shared by the scenarios, started by the
// first scenario that needs them (so the unit tests never start a cluster).
var env struct {
	once      sync.Once
	err       error
	cluster   *cluster.Cluster
	kube      kubernetes.Interface
	gw        gwclient.Interface
	binary    string
	ctrl      *exec.Cmd
	adminAddr string
	outDir    string
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	teardown()
	os.Exit(code)
}

// requireCluster skips unless GATEHOUSE_CLUSTER_TESTS is set, and starts the
// cluster and the controller on first use.
func requireCluster(t *testing.T) {
	t.Helper()
	if os.Getenv("GATEHOUSE_CLUSTER_TESTS") == "" {
		t.Skip("control-plane benchmarks need GATEHOUSE_CLUSTER_TESTS=1 (root and hack/cluster/build.sh)")
	}
	env.once.Do(func() { env.err = setup() })
	if env.err != nil {
		t.Fatalf("setup: %v", env.err)
	}
}

func setup() error {
	env.outDir = *flagOut
	if env.outDir == "" {
		env.outDir = filepath.Join("out", time.Now().UTC().Format("20060102-150405"))
	}
	var err error
	if env.binary, err = cluster.BuildGatehouse("../../.."); err != nil {
		return err
	}
	// The host lock may be held by another engineer's cluster: wait.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var log io.Writer = io.Discard
	if testing.Verbose() {
		log = os.Stderr
	}
	begin := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{
		ExtraCRDDirs: []string{"../../../deploy/crds"},
		Images:       map[string]string{proxyImage: env.binary},
		Log:          log,
	})
	if err != nil {
		return err
	}
	env.cluster = c
	fmt.Fprintf(os.Stderr, "cluster up in %v; output in %s\n", time.Since(begin).Round(time.Second), env.outDir)
	cfg := *c.Config
	cfg.QPS, cfg.Burst = 2000, 4000 // the benchmark's own load must not be throttled client-side
	if env.kube, err = kubernetes.NewForConfig(&cfg); err != nil {
		return err
	}
	if env.gw, err = gwclient.NewForConfig(&cfg); err != nil {
		return err
	}
	return startController()
}

// startController runs one `gatehouse controller` replica as a process,
// logging at info (debug logging would dominate its CPU under churn).
func startController() error {
	logFile, err := os.Create(filepath.Join(env.cluster.Dir, "controller.log"))
	if err != nil {
		return err
	}
	xds := net.JoinHostPort(env.cluster.HostIP, fmt.Sprint(cluster.FreePort(env.cluster.HostIP)))
	env.adminAddr = net.JoinHostPort("127.0.0.1", fmt.Sprint(cluster.FreePort("127.0.0.1")))
	cmd := exec.Command(env.binary, "controller", "--kubeconfig", env.cluster.Kubeconfig,
		"--xds-address", xds, "--proxy-controller-address", xds,
		"--proxy-image", proxyImage+":bench", "--admin", env.adminAddr, "--log-level", "info",
		"--leader-elect=false")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	env.ctrl = cmd
	return cluster.WaitHTTP("http://"+env.adminAddr+"/ready", 60*time.Second)
}

func teardown() {
	if env.ctrl != nil && env.ctrl.Process != nil {
		_ = env.ctrl.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = env.ctrl.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = env.ctrl.Process.Kill()
			<-done
		}
	}
	if env.cluster != nil {
		_ = env.cluster.Stop()
	}
	if env.binary != "" {
		_ = os.RemoveAll(filepath.Dir(env.binary))
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	var v int
	if _, err := fmt.Sscan(os.Getenv(k), &v); err == nil {
		return v
	}
	return def
}

func envDuration(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return d
	}
	return def
}
