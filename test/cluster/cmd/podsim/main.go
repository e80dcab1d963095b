// Command podsim runs the pod simulator alone against an existing cluster
// (for example one whose control plane was started by other means). It needs
// root. hack/cluster/up.sh does not need it: the cluster command runs the
// simulator in-process.
//
//	podsim -kubeconfig KUBECONFIG -dir DIR [-image REPO=BINARY]... [-apiserver 127.0.0.1:16443]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"gatehouse.dev/gatehouse/test/cluster/podsim"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var (
		kubeconfig = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
		dir        = flag.String("dir", "/tmp/gatehouse-podsim", "directory for pod roots and logs")
		node       = flag.String("node", "gatehouse-node", "fake node name")
		bridge     = flag.String("bridge", "gh-br0", "bridge to create for pods")
		host       = flag.String("host-prefix", "10.244.0.1/16", "bridge address/pod network length")
		kubelet    = flag.String("kubelet", "127.0.0.1:10250", "fake kubelet listen address")
		apiserver  = flag.String("apiserver", "", "loopback host:port of the apiserver to relay to pods (optional)")
		images     listFlag
	)
	flag.Var(&images, "image", "REPO=BINARY image mapping (repeatable)")
	flag.Parse()
	if err := run(*kubeconfig, *dir, *node, *bridge, *host, *kubelet, *apiserver, images); err != nil {
		fmt.Fprintln(os.Stderr, "podsim:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, dir, node, bridge, host, kubelet, apiserver string, images []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	prefix, err := netip.ParsePrefix(host)
	if err != nil {
		return fmt.Errorf("-host-prefix: %w", err)
	}
	imageMap := map[string]string{}
	for _, kv := range images {
		repo, bin, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("-image %q: want REPO=BINARY", kv)
		}
		if imageMap[repo], err = filepath.Abs(bin); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	sim, err := podsim.Start(ctx, podsim.Config{
		Client: client, Dir: dir, Images: imageMap, NodeName: node, Bridge: bridge,
		HostPrefix: prefix, KubeletAddr: kubelet, APIServer: apiserver, Logger: logger,
	})
	if err != nil {
		return err
	}
	logger.Info("pod simulator running; SIGTERM to stop", "node", node, "hostIP", sim.HostIP())
	<-ctx.Done()
	sim.Stop()
	return nil
}
