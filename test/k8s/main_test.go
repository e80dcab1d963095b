// Package k8s holds the end-to-end tests of Kubernetes mode: a real
// kube-apiserver, etcd and controller-manager from the local cluster harness
// (test/cluster), the gatehouse controller as a process, and provisioned
// proxies running as simulated pods. They run when GATEHOUSE_CLUSTER_TESTS=1
// (they need root and the harness binaries: hack/cluster/build.sh).
package k8s

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/test/cluster"
)

const proxyImage = "ghcr.io/gatehouse-dev/gatehouse"

// controllerNamespace holds the controller's ServiceAccount and Lease.
const controllerNamespace = "gatehouse-system"

var env struct {
	cluster    *cluster.Cluster
	kubeconfig string // the controller's ServiceAccount
	// apiserverStopped is when TestAPIServerRestart stopped the apiserver.
	apiserverStopped time.Time
	binary           string
	xdsAddress       string
	adminAddr        string
	ctrl             *exec.Cmd
	ctrlLog          *os.File
}

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv("GATEHOUSE_CLUSTER_TESTS") == "" {
		fmt.Println("cluster tests skipped: set GATEHOUSE_CLUSTER_TESTS=1 (needs root and hack/cluster/build.sh)")
		os.Exit(m.Run())
	}
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		teardown()
		os.Exit(1)
	}
	if code == 0 {
		code = m.Run()
	}
	if env.cluster != nil {
		if denied := deniedBefore(cluster.ForbiddenLines(filepath.Join(env.cluster.Dir, "controller.log")), env.apiserverStopped); len(denied) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the controller was denied by RBAC %d times:\n", len(denied))
			for _, l := range denied[:min(len(denied), 10)] {
				fmt.Fprintln(os.Stderr, "  ", l)
			}
			code = 1
		}
	}
	teardown()
	os.Exit(code)
}

func setup() (int, error) {
	var err error
	if env.binary, err = cluster.BuildGatehouse("../.."); err != nil {
		return 1, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log io.Writer = io.Discard
	if testing.Verbose() {
		log = os.Stderr
	}
	c, err := cluster.Start(ctx, cluster.Options{
		ExtraCRDDirs:  []string{"../../deploy/crds"},
		Images:        map[string]string{proxyImage: env.binary},
		Log:           log,
		Authorization: "RBAC",
	})
	if err != nil {
		return 1, err
	}
	env.cluster = c
	// The controllers run with exactly deploy/rbac.yaml's permissions
	// (leader election included); TestMain fails on any forbidden request.
	env.kubeconfig, err = c.InstallServiceAccountRBAC(ctx, "../../deploy/rbac.yaml", controllerNamespace, "gatehouse-controller")
	if err != nil {
		return 1, err
	}
	env.xdsAddress = net.JoinHostPort(c.HostIP, fmt.Sprint(cluster.FreePort(c.HostIP)))
	env.adminAddr = net.JoinHostPort("127.0.0.1", fmt.Sprint(cluster.FreePort("127.0.0.1")))
	return 0, startController()
}

// startController runs `gatehouse controller` as a process, so tests can
// kill and restart it.
func startController() error {
	var err error
	if env.ctrlLog == nil {
		env.ctrlLog, err = os.Create(filepath.Join(env.cluster.Dir, "controller.log"))
		if err != nil {
			return err
		}
	}
	env.ctrl, err = runController("ctrl-1", env.xdsAddress, env.adminAddr, env.ctrlLog)
	return err
}

// runController starts a controller replica with leader election on the
// Lease default/gatehouse-controller and waits until it is ready.
func runController(identity, xdsAddr, adminAddr string, log io.Writer) (*exec.Cmd, error) {
	cmd := exec.Command(env.binary, "controller", "--kubeconfig", env.kubeconfig,
		"--xds-address", xdsAddr, "--proxy-controller-address", env.xdsAddress,
		"--proxy-image", proxyImage+":e2e", "--admin", adminAddr, "--log-level", "debug",
		"--leader-elect=true", "--leader-election-namespace", controllerNamespace, "--leader-election-id", identity)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, cluster.WaitHTTP("http://"+adminAddr+"/ready", 60*time.Second)
}

func stopController(sig syscall.Signal) {
	if env.ctrl == nil || env.ctrl.Process == nil {
		return
	}
	_ = env.ctrl.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = env.ctrl.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = env.ctrl.Process.Kill()
		<-done
	}
	env.ctrl = nil
}

func teardown() {
	stopController(syscall.SIGTERM)
	if env.cluster != nil {
		if os.Getenv("GATEHOUSE_E2E_DUMP") != "" && env.ctrlLog != nil {
			b, _ := os.ReadFile(env.ctrlLog.Name())
			lines := strings.Split(string(b), "\n")
			if len(lines) > 200 {
				lines = lines[len(lines)-200:]
			}
			fmt.Fprintln(os.Stderr, strings.Join(lines, "\n"))
		}
		_ = env.cluster.Stop()
	}
	if env.binary != "" {
		_ = os.RemoveAll(filepath.Dir(env.binary))
	}
}

// deniedBefore keeps the log lines logged before t (all of them when t is
// zero). A restarted apiserver answers "forbidden" for a moment, until its
// RBAC authorizer has loaded the roles and bindings again, and the
// controller reconnects at once (internal/source/kube/dial.go): those
// denials are the restart's, not a missing permission.
func deniedBefore(lines []string, t time.Time) []string {
	if t.IsZero() {
		return lines
	}
	var out []string
	for _, l := range lines {
		if at, ok := logTime(l, t.Year()); !ok || at.Before(t) {
			out = append(out, l)
		}
	}
	return out
}

var (
	jsonTime = regexp.MustCompile(`"time":"([^"]+)"`)
	klogTime = regexp.MustCompile(`^[IWEF](\d{4} \d{2}:\d{2}:\d{2}\.\d+)`)
)

// logTime reads the time of a controller log line: slog's JSON "time", or
// klog's "E1126 04:18:19.562192" prefix (no year, local time).
func logTime(line string, year int) (time.Time, bool) {
	if m := jsonTime.FindStringSubmatch(line); m != nil {
		t, err := time.Parse(time.RFC3339Nano, m[1])
		return t, err == nil
	}
	if m := klogTime.FindStringSubmatch(line); m != nil {
		t, err := time.ParseInLocation("0102 15:04:05.000000", m[1], time.Local)
		return t.AddDate(year, 0, 0), err == nil
	}
	return time.Time{}, false
}
