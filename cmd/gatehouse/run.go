package main

import (
	"context"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/standalone"
	"gatehouse.dev/gatehouse/internal/telemetry"
	"gatehouse.dev/gatehouse/internal/translate"
)

type runOptions struct {
	config     string
	admin      string
	controller string
	debounce   time.Duration
	drain      time.Duration
	listener   listenerFlags
	telemetry  telemetryFlags
}

func runCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run --config DIR",
		Short: "Run the gateway standalone from a directory of YAML files",
		Long: `Run translates every Gateway API resource in DIR (and its subdirectories),
serves the Gateways' listeners, and applies file changes within milliseconds.
A file or object with an error is reported in the log and at the admin
/problems and /status endpoints; the rest of the config keeps serving.`,
		Example: `  gatehouse run --config examples/quickstart
  gatehouse run --config /etc/gatehouse --admin 127.0.0.1:15000 --log-level debug`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runStandalone(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.config, "config", "c", "", "directory of YAML/JSON config files (required)")
	f.StringVar(&o.admin, "admin", "127.0.0.1:15000", "admin address for the overview page, /healthz, /ready, /metrics, /config_dump, /status, /problems and pprof; empty disables it")
	f.StringVar(&o.controller, "controller-name", translate.DefaultControllerName, "GatewayClass controllerName to accept")
	f.DurationVar(&o.debounce, "debounce", 2*time.Millisecond, "quiet time after a file change before reloading")
	f.DurationVar(&o.drain, "drain-timeout", 15*time.Second, "how long in-flight requests may finish on shutdown")
	o.listener.register(f)
	o.telemetry.register(f, 0)
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func runStandalone(parent context.Context, o runOptions) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.Default()
	accessLog, tracer, err := o.telemetry.build()
	if err != nil {
		return err
	}
	lo, err := o.listener.options()
	if err != nil {
		return err
	}
	in, err := standalone.Start(ctx, standalone.Options{
		ConfigDir: o.config, Admin: o.admin, ControllerName: o.controller, Debounce: o.debounce, Logger: log,
		Proxy:   proxy.Options{Listener: lo},
		Metrics: telemetry.NewRegistry(), AccessLog: accessLog, Tracer: tracer, ShutdownDelay: o.telemetry.shutdownDelay,
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down: draining in-flight requests", "timeout", o.drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), o.telemetry.shutdownDelay+o.drain)
	defer cancel()
	return in.Stop(dctx)
}
