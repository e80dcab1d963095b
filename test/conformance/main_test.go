// Package conformance runs the upstream Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, unmodified, as a Go dependency)
// against Gatehouse on the local cluster harness (test/cluster): a real
// etcd, kube-apiserver and controller-manager, the pod simulator, and
// `gatehouse controller` as a process that provisions proxies as simulated
// pods.
//
// It is a separate Go module so the suite's dependencies never enter the
// main go.mod. It runs only with GATEHOUSE_CONFORMANCE=1 (root and the
// harness binaries from hack/cluster/build.sh are needed); see
// hack/conformance.sh for the documented entry point and the environment
// variables.
//
// The run is a regression check: every test listed in
// conformance/expected-pass.txt must pass. Tests outside that list may fail
// (they are reported, not fatal), so `go test` exits non-zero only for a
// regression, a setup failure, or (with GATEHOUSE_CONFORMANCE_STRICT=1) any
// failure at all.
package conformance

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/test/cluster"
)

const (
	proxyRepo      = "ghcr.io/gatehouse-dev/gatehouse"
	proxyImage     = proxyRepo + ":conformance"
	gatewayClass   = "gatehouse"
	controllerName = "gatehouse.dev/gateway-controller"
	// repoRoot is the main module, relative to this package.
	repoRoot = "../.."
)

var env struct {
	cluster *cluster.Cluster
	// kubeconfig is the controller's: its ServiceAccount's under RBAC.
	kubeconfig string
	binDir     string
	binary     string
	ctrl       *exec.Cmd
	ctrlLog    *os.File
}

// results records the outcome of every suite test that ran, by short name.
var results = struct {
	sync.Mutex
	m       map[string]string // "pass", "fail", "skip"
	fullRun bool              // the whole profile ran (not a single test)
}{m: map[string]string{}}

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv("GATEHOUSE_CONFORMANCE") == "" {
		fmt.Println("conformance skipped: set GATEHOUSE_CONFORMANCE=1 (needs root and hack/cluster/build.sh); see hack/conformance.sh")
		os.Exit(m.Run())
	}
	start := time.Now()
	// An interrupted run (Ctrl-C, a timeout's SIGTERM) still stops the
	// cluster and the Gatehouse processes it started.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "conformance: %v: tearing down\n", s)
		teardown()
		os.Exit(2)
	}()
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance setup:", err)
		teardown()
		os.Exit(1)
	}
	code := m.Run()
	denied := rbacDenials()
	teardown()
	fmt.Fprintf(os.Stderr, "conformance: total time %v\n", time.Since(start).Round(time.Second))
	code = verdict(code)
	if len(denied) > 0 {
		// Least privilege, checked: any request deploy/rbac.yaml does not
		// allow is a bug in that file (or a needless request).
		fmt.Fprintf(os.Stderr, "conformance: FAIL: the controller was denied by RBAC %d times, e.g.:\n", len(denied))
		for _, l := range denied[:min(len(denied), 10)] {
			fmt.Fprintln(os.Stderr, "  ", l)
		}
		code = 1
	}
	os.Exit(code)
}

// rbacDenials returns the controller log's lines that report a request
// the apiserver refused as forbidden.
func rbacDenials() []string {
	if env.cluster == nil {
		return nil
	}
	return cluster.ForbiddenLines(filepath.Join(env.cluster.Dir, "controller.log"))
}

// verdict turns the raw `go test` outcome into the regression check.
func verdict(code int) int {
	results.Lock()
	defer results.Unlock()
	if len(results.m) == 0 {
		return code // setup or the suite itself failed before any test
	}
	var pass, fail, skip []string
	for name, r := range results.m {
		switch r {
		case "pass":
			pass = append(pass, name)
		case "fail":
			fail = append(fail, name)
		default:
			skip = append(skip, name)
		}
	}
	sort.Strings(pass)
	sort.Strings(fail)
	fmt.Fprintf(os.Stderr, "conformance: %d passed, %d failed (%d skipped or not supported)\n", len(pass), len(fail), len(skip))
	for _, n := range fail {
		fmt.Fprintln(os.Stderr, "  FAILED", n)
	}
	expectedPath := filepath.Join(repoRoot, "conformance", "expected-pass.txt")
	if results.fullRun && os.Getenv("GATEHOUSE_CONFORMANCE_WRITE_EXPECTED") != "" {
		if err := writeExpected(expectedPath, pass); err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "conformance: wrote %s (%d tests)\n", expectedPath, len(pass))
	}
	expected, err := readExpected(expectedPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	var regressions []string
	for _, n := range expected {
		r, ran := results.m[n]
		if !ran {
			if results.fullRun {
				regressions = append(regressions, n+" (did not run)")
			}
			continue
		}
		// A single-test run records the others as skipped: only a test
		// that ran and failed is a regression then.
		if r == "fail" || r != "pass" && results.fullRun {
			regressions = append(regressions, n)
		}
	}
	var newPasses []string
	exp := map[string]bool{}
	for _, n := range expected {
		exp[n] = true
	}
	for _, n := range pass {
		if !exp[n] {
			newPasses = append(newPasses, n)
		}
	}
	if len(newPasses) > 0 {
		fmt.Fprintf(os.Stderr, "conformance: passing but not in expected-pass.txt (add them): %s\n", strings.Join(newPasses, " "))
	}
	if len(regressions) > 0 {
		fmt.Fprintf(os.Stderr, "conformance: REGRESSION: expected to pass but did not: %s\n", strings.Join(regressions, " "))
		return 1
	}
	if os.Getenv("GATEHOUSE_CONFORMANCE_STRICT") != "" {
		return code
	}
	if code != 0 && len(fail) == 0 {
		return code // something other than a suite test failed
	}
	fmt.Fprintln(os.Stderr, "conformance: OK (no regression against conformance/expected-pass.txt)")
	return 0
}

func readExpected(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, s.Err()
}

func writeExpected(path string, pass []string) error {
	var b strings.Builder
	b.WriteString("# Upstream Gateway API conformance tests (v1.6.3) that Gatehouse passes.\n")
	b.WriteString("# hack/conformance.sh fails if any of them fails (regression check).\n")
	b.WriteString("# Regenerate from a full run: GATEHOUSE_CONFORMANCE_WRITE_EXPECTED=1 hack/conformance.sh\n")
	for _, n := range pass {
		b.WriteString(n + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func setup() error {
	var err error
	if env.binary, err = cluster.BuildGatehouse(repoRoot); err != nil {
		return err
	}
	env.binDir = filepath.Dir(env.binary)
	// Generous: the wait includes another cluster on this host finishing
	// (the harness serialises clusters); go test's -timeout bounds the run.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	var log io.Writer = io.Discard
	if testing.Verbose() {
		log = os.Stderr
	}
	channel := os.Getenv("GATEHOUSE_CONFORMANCE_CHANNEL")
	if channel == "" {
		channel = "standard"
	}
	// RBAC by default: the controller runs as the ServiceAccount of
	// deploy/rbac.yaml with exactly the permissions that file grants, so a
	// missing (or needless) permission shows up here.
	authz := os.Getenv("GATEHOUSE_CONFORMANCE_AUTHORIZATION")
	if authz == "" {
		authz = "RBAC"
	}
	c, err := cluster.Start(ctx, cluster.Options{
		Channel:       channel,
		ExtraCRDDirs:  []string{filepath.Join(repoRoot, "deploy", "crds")},
		Images:        map[string]string{proxyRepo: env.binary},
		Log:           log,
		KeepDir:       os.Getenv("GATEHOUSE_CONFORMANCE_KEEP") != "",
		Authorization: authz,
	})
	if err != nil {
		return err
	}
	env.cluster = c
	fmt.Fprintf(os.Stderr, "conformance: cluster in %s (channel %s, authorization %s)\n", c.Dir, channel, authz)
	env.kubeconfig = c.Kubeconfig
	if authz == "RBAC" {
		env.kubeconfig, err = c.InstallServiceAccountRBAC(ctx, filepath.Join(repoRoot, "deploy", "rbac.yaml"),
			"gatehouse-system", "gatehouse-controller")
		if err != nil {
			return err
		}
	}
	return startController()
}

// startController runs `gatehouse controller` as a process; proxies reach
// its xDS port on the bridge address.
func startController() error {
	var err error
	env.ctrlLog, err = os.Create(filepath.Join(env.cluster.Dir, "controller.log"))
	if err != nil {
		return err
	}
	xds := net.JoinHostPort(env.cluster.HostIP, fmt.Sprint(cluster.FreePort(env.cluster.HostIP)))
	admin := net.JoinHostPort("127.0.0.1", fmt.Sprint(cluster.FreePort("127.0.0.1")))
	cmd := exec.Command(env.binary, "controller", "--kubeconfig", env.kubeconfig,
		"--xds-address", xds, "--proxy-controller-address", xds,
		"--proxy-image", proxyImage, "--admin", admin, "--log-level", "info",
		"--leader-elect=false")
	cmd.Stdout, cmd.Stderr = env.ctrlLog, env.ctrlLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	env.ctrl = cmd
	return cluster.WaitHTTP("http://"+admin+"/ready", 60*time.Second)
}

func stopController() {
	if env.ctrl == nil || env.ctrl.Process == nil {
		return
	}
	_ = env.ctrl.Process.Signal(syscall.SIGTERM)
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
	stopController()
	if env.cluster != nil {
		if os.Getenv("GATEHOUSE_CONFORMANCE_KEEP") != "" {
			fmt.Fprintf(os.Stderr, "conformance: kept %s (controller.log, logs/, pods/)\n", env.cluster.Dir)
		}
		_ = env.cluster.Stop()
	}
	if env.binDir != "" {
		_ = os.RemoveAll(env.binDir)
	}
}
