// Package controller assembles Kubernetes mode: informers feed the
// translator; IR changes go to the delta xDS server that proxies connect to;
// status goes to the status writer; our Gateways are provisioned as proxy
// Deployments. Leader election decides which replica writes status and
// provisions; every replica serves config to proxies.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"k8s.io/client-go/rest"

	"gatehouse.dev/gatehouse/internal/admin"
	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/provision"
	"gatehouse.dev/gatehouse/internal/source/kube"
	"gatehouse.dev/gatehouse/internal/status"
	"gatehouse.dev/gatehouse/internal/translate"
)

// Options configures the controller.
type Options struct {
	Config         *rest.Config
	ControllerName string
	// XDSAddress is where proxies connect (gRPC delta xDS).
	XDSAddress string
	// AdminAddress serves /healthz, /ready, /status, /proxies and pprof.
	AdminAddress string

	LeaderElect    bool
	LeaseNamespace string
	LeaseName      string
	Identity       string

	// Provision enables creating a proxy Deployment, Service and
	// ServiceAccount per Gateway.
	Provision bool
	Proxy     provision.Options

	// TokenAudience is the audience proxies' tokens must carry.
	TokenAudience string
	// Authenticator overrides TokenReview (tests).
	Authenticator xds.Authenticator
	// StatusWorkers is the number of concurrent status writers (default 4).
	StatusWorkers int
	Logger        *slog.Logger
	// Metrics, when set, receives the controller's metrics, served at the
	// admin /metrics.
	Metrics *prometheus.Registry
}

// Controller is a running controller.
type Controller struct {
	opts       Options
	log        *slog.Logger
	Translator *translate.Translator
	Hub        *distribute.Hub
	Source     *kube.Source
	Status     *status.Writer
	Board      *status.Board
	XDS        *xds.Server
	prov       *provisioner
	secretNS   chan []string
	llmSecrets chan []string // keys of LLM backends' API-key Secrets

	xdsAddr, adminAddr net.Addr
	telemetry          *controllerTelemetry // nil when Options.Metrics is nil
}

// New wires the controller; Run starts it.
func New(o Options) (*Controller, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ControllerName == "" {
		o.ControllerName = translate.DefaultControllerName
	}
	if o.TokenAudience == "" {
		o.TokenAudience = "gatehouse"
	}
	if o.Proxy.TokenAudience == "" {
		o.Proxy.TokenAudience = o.TokenAudience // provisioned tokens must carry what we check
	}
	if o.StatusWorkers == 0 {
		o.StatusWorkers = 4
	}
	if o.Identity == "" {
		o.Identity, _ = os.Hostname()
	}
	c := &Controller{opts: o, log: o.Logger}
	c.Translator = translate.New(o.ControllerName, translate.WithGatewayService(func(ns, name string) string {
		return ns + "/" + provision.Name(&gwv1.Gateway{ObjectMeta: objectMeta(ns, name)})
	}))
	c.Hub = distribute.NewHub()
	c.Board = status.NewBoard(o.Logger)
	c.initMetrics()
	src, err := kube.New(o.Config, c.translationSink(), kube.Options{Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	c.Source = src
	c.Status = status.New(src.Gateway, o.ControllerName, o.Logger)
	c.Status.Dynamic = src.Dynamic
	c.Translator.OnIR(func(ch translate.IRChange) { c.Hub.Publish(ch.Upserts, ch.Removes) })
	c.Translator.OnStatus(func(ch translate.StatusChange) {
		c.Status.Update(ch)
		c.Board.Update(ch)
	})
	auth := o.Authenticator
	if auth == nil {
		auth = &xds.TokenReview{Reviews: src.Kube.AuthenticationV1().TokenReviews(), Audience: o.TokenAudience}
	}
	// Sends are gated on the previous response's ACK, which already
	// coalesces bursts; the quiet window only has to catch one batch.
	c.XDS, err = xds.NewServer(xds.Options{Hub: c.Hub, Authenticator: auth, Authorizer: authorizeProxy,
		Debounce: 2 * time.Millisecond, Logger: o.Logger, OnPush: c.onPush()})
	if err != nil {
		return nil, err
	}
	c.prov = newProvisioner(c, o.Logger)
	return c, nil
}

// authorizeProxy lets the ServiceAccount provisioned for a Gateway read that
// Gateway's config and nothing else.
func authorizeProxy(identity, gateway string) bool {
	ns, name, ok := strings.Cut(gateway, "/")
	if !ok {
		return false
	}
	sa := provision.Name(&gwv1.Gateway{ObjectMeta: objectMeta(ns, name)})
	return identity == "system:serviceaccount:"+ns+":"+sa
}

// Run serves until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	secretNS := make(chan []string, 1)
	c.secretNS = secretNS
	c.Translator.OnSecretRefs(func(keys []string) {
		select { // keep only the latest set; never block translation
		case <-secretNS:
		default:
		}
		secretNS <- namespacesOf(keys)
	})
	llmSecrets := make(chan []string, 1)
	c.llmSecrets = llmSecrets
	c.Translator.OnLLMSecretRefs(func(keys []string) {
		select { // keep only the latest set; never block translation
		case <-llmSecrets:
		default:
		}
		llmSecrets <- keys
	})
	c.Translator.OnGateways(c.prov.enqueue)

	if c.opts.AdminAddress != "" {
		stop, err := c.serveAdmin()
		if err != nil {
			return err
		}
		defer stop()
	}
	errc := make(chan error, 1)
	go func() {
		errc <- c.Source.Run(ctx)
		cancel()
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ns := <-secretNS:
				c.Source.WatchSecretNamespaces(ctx, ns)
			case keys := <-llmSecrets:
				c.Source.WatchNamedSecrets(ctx, keys)
			}
		}
	}()
	// Proxies must never see a partial config: a proxy that connects gets
	// the full set and drops what is not in it. So xDS is served only once
	// the informers' initial lists are translated.
	if err := c.waitInitialConfig(ctx); err != nil {
		select {
		case serr := <-errc:
			if serr != nil {
				return serr
			}
		default:
		}
		return nil
	}
	lis, err := net.Listen("tcp", c.opts.XDSAddress)
	if err != nil {
		return fmt.Errorf("--xds-address %s: %w", c.opts.XDSAddress, err)
	}
	c.xdsAddr = lis.Addr()
	gs := grpc.NewServer()
	c.XDS.Register(gs)
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	c.log.Info("xDS server listening", "address", lis.Addr().String())

	go c.Status.Run(ctx, c.opts.StatusWorkers)
	go c.prov.run(ctx)
	go c.watchProxyRejections(ctx)
	if c.opts.LeaderElect {
		go c.runLeaderElection(ctx)
	} else {
		c.setLeader(true)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
}

// XDSAddr returns the bound xDS address once Run has started.
func (c *Controller) XDSAddr() net.Addr { return c.xdsAddr }

// AdminAddr returns the bound admin address once Run has started.
func (c *Controller) AdminAddr() net.Addr { return c.adminAddr }

func (c *Controller) setLeader(leader bool) {
	c.log.Info("leadership changed", "leader", leader, "identity", c.opts.Identity)
	c.Status.SetLeader(leader)
	c.prov.setLeader(leader)
}

func (c *Controller) serveAdmin() (func(), error) {
	ln, err := net.Listen("tcp", c.opts.AdminAddress)
	if err != nil {
		return nil, fmt.Errorf("--admin %s: %w", c.opts.AdminAddress, err)
	}
	c.adminAddr = ln.Addr()
	mux := http.NewServeMux()
	mux.Handle("/", admin.Handler(admin.Sources{
		Title:    "controller " + c.opts.Identity,
		Ready:    c.Source.Synced,
		Status:   c.Board.Snapshot,
		Problems: func() any { return c.XDS.Proxies() },
		Proxies:  c.XDS.Proxies,
		Metrics:  c.metricsHandler(),
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /proxies", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, c.XDS.Proxies())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

func namespacesOf(keys []string) []string {
	set := map[string]bool{}
	for _, k := range keys {
		if ns, _, ok := strings.Cut(k, "/"); ok {
			set[ns] = true
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// waitInitialConfig returns once the informers' initial lists and the TLS
// Secrets those objects reference are translated.
func (c *Controller) waitInitialConfig(ctx context.Context) error {
	if err := c.Source.WaitSynced(ctx); err != nil {
		return err
	}
	// The first translation named the referenced Secrets: start watching
	// their namespaces now (the watcher goroutine may race us; starting the
	// same set twice is a no-op) and wait for them.
	select {
	case ns := <-c.secretNS:
		c.Source.WatchSecretNamespaces(ctx, ns)
	default:
	}
	select {
	case keys := <-c.llmSecrets:
		c.Source.WatchNamedSecrets(ctx, keys)
	default:
	}
	return c.Source.WaitSecretsSynced(ctx)
}

// watchProxyRejections feeds what connected proxies refused (e.g. a listener
// port they cannot open) back into translation, so it shows in status.
func (c *Controller) watchProxyRejections(ctx context.Context) {
	last := map[string]string{}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		byGateway := map[string][]ir.Rejection{}
		for _, p := range c.XDS.Proxies() {
			byGateway[p.Gateway] = append(byGateway[p.Gateway], p.Rejections...)
		}
		for gw := range last {
			if _, ok := byGateway[gw]; !ok {
				byGateway[gw] = nil
			}
		}
		for gw, rej := range byGateway {
			sort.Slice(rej, func(a, b int) bool { return rej[a].ID.String() < rej[b].ID.String() })
			key := fmt.Sprint(rej)
			if last[gw] == key {
				continue
			}
			c.Translator.ReportRejections(gw, rej)
			if len(rej) == 0 {
				delete(last, gw)
			} else {
				last[gw] = key
			}
		}
	}
}
