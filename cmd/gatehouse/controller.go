package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"gatehouse.dev/gatehouse/internal/controller"
	"gatehouse.dev/gatehouse/internal/telemetry"
	"gatehouse.dev/gatehouse/internal/translate"
)

func controllerCommand() *cobra.Command {
	var o controller.Options
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the Kubernetes controller: translate, write status, provision and configure proxies",
		Long: `The controller watches Gateway API resources for GatewayClasses whose
controllerName is --controller-name, writes their status, provisions a proxy
Deployment, Service and ServiceAccount per Gateway, and serves each proxy its
Gateway's configuration over gRPC (delta xDS) on --xds-address.`,
		Example: `  gatehouse controller --kubeconfig ~/.kube/config --proxy-image ghcr.io/gatehouse-dev/gatehouse:dev`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			o.Config = cfg
			o.Logger = slog.Default()
			o.Metrics = telemetry.NewRegistry()
			if o.LeaseNamespace == "" {
				o.LeaseNamespace = envOr("POD_NAMESPACE", "gatehouse-system")
			}
			if o.Identity == "" {
				o.Identity = os.Getenv("POD_NAME")
			}
			c, err := controller.New(o)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return c.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster config when empty and $KUBECONFIG is unset")
	f.StringVar(&o.ControllerName, "controller-name", translate.DefaultControllerName, "GatewayClass controllerName to handle")
	f.StringVar(&o.XDSAddress, "xds-address", ":15010", "address proxies connect to (gRPC delta xDS)")
	f.StringVar(&o.AdminAddress, "admin", "127.0.0.1:15000", "admin address (overview page, /healthz, /ready, /metrics, /status, /proxies, pprof); empty disables it")
	f.BoolVar(&o.LeaderElect, "leader-elect", true, "elect a leader among replicas; only the leader writes status and provisions")
	f.StringVar(&o.LeaseNamespace, "leader-election-namespace", "", "namespace of the Lease ($POD_NAMESPACE or gatehouse-system)")
	f.StringVar(&o.LeaseName, "leader-election-name", "gatehouse-controller", "name of the Lease")
	f.StringVar(&o.Identity, "leader-election-id", "", "this replica's identity ($POD_NAME or the host name)")
	f.BoolVar(&o.Provision, "provision", true, "create a proxy Deployment, Service and ServiceAccount per Gateway")
	f.StringVar(&o.Proxy.Image, "proxy-image", "ghcr.io/gatehouse-dev/gatehouse:latest", "image of provisioned proxies")
	f.StringVar(&o.Proxy.ControllerAddress, "proxy-controller-address", "gatehouse-controller.gatehouse-system.svc:15010", "xDS address as proxies reach it")
	f.StringVar(&o.TokenAudience, "token-audience", "gatehouse", "audience of the ServiceAccount tokens proxies authenticate with")
	return cmd
}

// restConfig loads a kubeconfig (flag, then $KUBECONFIG) or the in-cluster
// config.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --kubeconfig, no $KUBECONFIG and not in a cluster: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
