package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/internal/admin"
	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/telemetry"
)

func proxyCommand() *cobra.Command {
	var controllerAddr, gateway, tokenFile, node, adminAddr string
	var drain time.Duration
	var lf listenerFlags
	var tf telemetryFlags
	cmd := &cobra.Command{
		Use:   "proxy --controller ADDR --gateway NAMESPACE/NAME",
		Short: "Run a data-plane proxy configured by the controller",
		Long: `The proxy connects to the controller's xDS address, authenticates with a
ServiceAccount token, receives its Gateway's configuration (the full set, then
deltas) and serves it. It keeps serving its last good configuration while the
controller is unreachable and reconnects on its own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if gateway == "" || controllerAddr == "" {
				return &exitError{code: 2, msg: "--controller and --gateway are required"}
			}
			if tokenFile == "" {
				tokenFile = os.Getenv("GATEHOUSE_TOKEN_FILE")
			}
			log := slog.Default().With("gateway", gateway)
			accessLog, tracer, err := tf.build()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			lo, err := lf.options()
			if err != nil {
				return err
			}
			reg := telemetry.NewRegistry()
			metrics := telemetry.NewProxyMetrics(reg)
			lo.ConnState = metrics.ConnState
			popts := proxy.Options{Logger: log, Listener: lo}
			if obs := telemetry.NewObserver(metrics, accessLog, tracer); obs != nil {
				popts.Observer = obs
			}
			px := proxy.New(popts)
			var draining atomic.Bool
			ready := func() bool { return !draining.Load() && px.Ready() }
			client := &xds.Client{Addr: controllerAddr, Gateway: gateway, Node: node, TokenFile: tokenFile, Logger: log}
			if adminAddr != "" {
				ln, err := net.Listen("tcp", adminAddr)
				if err != nil {
					return fmt.Errorf("--admin %s: %w", adminAddr, err)
				}
				srv := &http.Server{Handler: admin.Handler(admin.Sources{
					Title:      "proxy " + gateway + " (" + node + ")",
					Ready:      ready,
					ConfigDump: func() any { return px.ConfigDump() },
					Metrics:    telemetry.Handler(reg),
					Endpoints:  px.EndpointHealth,
				}), ReadHeaderTimeout: 5 * time.Second}
				go func() { _ = srv.Serve(ln) }()
				defer srv.Close() // after the drain: probes see /ready 503 throughout
			}
			log.Info("proxy starting", "controller", controllerAddr, "node", node)
			err = client.Run(ctx, func(d ir.Delta) []ir.Rejection {
				rej := px.Apply(d)
				metrics.ConfigApplied(d.Version, rej)
				return rej
			})
			draining.Store(true)
			if tf.shutdownDelay > 0 {
				log.Info("not ready: waiting before closing listeners", "delay", tf.shutdownDelay.String())
				time.Sleep(tf.shutdownDelay)
			}
			log.Info("shutting down: draining in-flight requests", "timeout", drain.String())
			dctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			if serr := px.Shutdown(dctx); serr != nil && err == nil {
				err = serr
			}
			if tracer != nil {
				fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer fcancel()
				_ = tracer.Shutdown(fctx)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&controllerAddr, "controller", "", "controller xDS address (host:port)")
	f.StringVar(&gateway, "gateway", "", "the Gateway this proxy serves, as namespace/name")
	f.StringVar(&tokenFile, "token-file", "", "file with the ServiceAccount token ($GATEHOUSE_TOKEN_FILE)")
	f.StringVar(&node, "node", envOr("POD_NAME", hostname()), "this proxy's name, reported to the controller")
	f.StringVar(&adminAddr, "admin", "0.0.0.0:15000", "admin address (overview page, /healthz, /ready, /metrics, /config_dump, pprof); empty disables it")
	f.DurationVar(&drain, "drain-timeout", 15*time.Second, "how long in-flight requests may finish on shutdown")
	lf.register(f)
	tf.register(f, 0)
	return cmd
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
