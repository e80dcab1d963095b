// Command cluster runs a local Gatehouse test cluster in the foreground
// until SIGINT/SIGTERM; hack/cluster/up.sh starts it in the background.
//
//	cluster -dir /tmp/gatehouse-cluster [-channel experimental] [-crd-dir DIR]... [-image REPO=BINARY]...
//
// Once ready it writes DIR/kubeconfig and then DIR/ready.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"gatehouse.dev/gatehouse/test/cluster"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var (
		dir     = flag.String("dir", "/tmp/gatehouse-cluster", "cluster directory (kubeconfig, logs, data)")
		channel = flag.String("channel", "standard", "Gateway API CRD channel: standard or experimental")
		crdDirs listFlag
		images  listFlag
	)
	flag.Var(&crdDirs, "crd-dir", "extra directory of manifests to apply (repeatable)")
	flag.Var(&images, "image", "REPO=BINARY image mapping for the pod simulator (repeatable)")
	flag.Parse()
	if err := run(*dir, *channel, crdDirs, images); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(dir, channel string, crdDirs, images []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	imageMap, err := parseImages(images)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, "ready"))
	c, err := cluster.Start(ctx, cluster.Options{
		Channel: channel, ExtraCRDDirs: crdDirs, Images: imageMap, Dir: dir, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(c.Kubeconfig+"\n"), 0o644); err != nil {
		return err
	}
	slog.Info("cluster running; SIGTERM to stop", "kubeconfig", c.Kubeconfig, "hostIP", c.HostIP)
	<-ctx.Done()
	slog.Info("stopping cluster")
	_ = os.Remove(filepath.Join(dir, "ready"))
	return c.Stop()
}

func parseImages(list []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range list {
		repo, bin, ok := strings.Cut(kv, "=")
		if !ok || repo == "" || bin == "" {
			return nil, fmt.Errorf("-image %q: want REPO=BINARY", kv)
		}
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		m[repo] = abs
	}
	return m, nil
}
