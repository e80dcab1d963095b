package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/internal/admin"
	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/listener"
	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/translate"
)

type runOptions struct {
	config     string
	admin      string
	controller string
	debounce   time.Duration
	drain      time.Duration
	maxHeader  int
	readHeader time.Duration
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
	f.StringVar(&o.admin, "admin", "127.0.0.1:15000", "admin address for /ready, /config_dump, /status, /problems and pprof; empty disables it")
	f.StringVar(&o.controller, "controller-name", translate.DefaultControllerName, "GatewayClass controllerName to accept")
	f.DurationVar(&o.debounce, "debounce", 2*time.Millisecond, "quiet time after a file change before reloading")
	f.DurationVar(&o.drain, "drain-timeout", 15*time.Second, "how long in-flight requests may finish on shutdown")
	f.IntVar(&o.maxHeader, "max-header-bytes", 64<<10, "largest request header block accepted (larger gets 431)")
	f.DurationVar(&o.readHeader, "read-header-timeout", 10*time.Second, "time a client has to send its request headers")
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

	tr := translate.New(o.controller)
	hub := distribute.NewHub()
	board := newStatusBoard(log)
	tr.OnIR(func(c translate.IRChange) { hub.Publish(c.Upserts, c.Removes) })
	tr.OnStatus(board.update)

	px := proxy.New(proxy.Options{Logger: log,
		Listener: listener.Options{MaxHeaderBytes: o.maxHeader, ReadHeaderTimeout: o.readHeader}})
	src := file.New(o.config, tr, file.Options{Logger: log, Debounce: o.debounce, OnProblems: board.setProblems})
	if _, err := src.Load(); err != nil {
		return fmt.Errorf("--config %s: %w", o.config, err)
	}
	sub := hub.Subscribe()
	defer sub.Close()
	// Apply the initial config before serving admin, so /ready means "has
	// config and listeners bound".
	first, err := sub.Next(ctx)
	if err != nil {
		return err
	}
	sub.Report(first.Version, px.Apply(first))
	log.Info("gatehouse started", "config", o.config, "resources", hub.Len())

	if o.admin != "" {
		ln, err := net.Listen("tcp", o.admin)
		if err != nil {
			return fmt.Errorf("--admin %s: %w", o.admin, err)
		}
		srv := &http.Server{Handler: admin.Handler(admin.Sources{
			Ready:      px.Ready,
			ConfigDump: func() any { return px.ConfigDump() },
			Status:     board.snapshot,
			Problems:   board.problemList,
		}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("admin listening", "address", ln.Addr().String())
	}
	go func() {
		if err := src.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("config watcher stopped", "error", err)
		}
	}()
	_ = px.Run(ctx, sub.Next, sub.Report)

	log.Info("shutting down: draining in-flight requests", "timeout", o.drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	return px.Shutdown(dctx)
}
