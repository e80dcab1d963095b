// Package standalone assembles the whole pipeline in one process: the file
// source feeds the translator, whose IR changes go through the delta hub to
// an in-process proxy; status and config problems go to a status board that
// logs changes and backs the admin endpoints. `gatehouse run` and the
// end-to-end tests both use it.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/internal/admin"
	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/status"
	"gatehouse.dev/gatehouse/internal/telemetry"
	"gatehouse.dev/gatehouse/internal/translate"
)

// Options configures an Instance.
type Options struct {
	// ConfigDir is the directory of YAML/JSON files.
	ConfigDir string
	// Admin is the admin listen address; empty disables it.
	Admin string
	// ControllerName is the GatewayClass controllerName to accept.
	ControllerName string
	// Debounce is the file watcher's quiet time.
	Debounce time.Duration
	// Proxy configures the data plane. Its Observer is set from the
	// telemetry options below.
	Proxy  proxy.Options
	Logger *slog.Logger

	// Metrics, when set, receives the proxy and translation metrics and is
	// served at the admin /metrics.
	Metrics *prometheus.Registry
	// AccessLog, when set, writes a JSON line per request.
	AccessLog *telemetry.AccessLog
	// Tracer, when set, records a span per request; Stop flushes it.
	Tracer *telemetry.Tracer
	// ShutdownDelay is how long Stop keeps serving after readiness turned
	// false, so load balancers stop sending before the sockets close.
	ShutdownDelay time.Duration
}

// Instance is a running standalone gateway.
type Instance struct {
	Proxy      *proxy.Proxy
	Translator *translate.Translator
	Hub        *distribute.Hub
	Board      *status.Board
	// AdminAddr is the bound admin address (nil when disabled).
	AdminAddr net.Addr

	log      *slog.Logger
	opts     Options
	cancel   context.CancelFunc
	done     chan struct{}
	admin    *http.Server
	draining atomic.Bool
}

// Start loads the config, applies it to the proxy (so listeners are bound
// when Start returns), and starts watching files and serving admin.
func Start(ctx context.Context, o Options) (*Instance, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ControllerName == "" {
		o.ControllerName = translate.DefaultControllerName
	}
	o.Proxy.Logger = o.Logger
	in := &Instance{log: o.Logger, opts: o, done: make(chan struct{})}
	var pm *telemetry.ProxyMetrics
	var sink source.Sink
	if o.Metrics != nil {
		pm = telemetry.NewProxyMetrics(o.Metrics)
		if o.Proxy.Listener.ConnState == nil {
			o.Proxy.Listener.ConnState = pm.ConnState
		}
	}
	if obs := telemetry.NewObserver(pm, o.AccessLog, o.Tracer); obs != nil {
		o.Proxy.Observer = obs
	}
	in.Translator = translate.New(o.ControllerName)
	in.Hub = distribute.NewHub()
	in.Board = status.NewBoard(o.Logger)
	in.Translator.OnIR(func(c translate.IRChange) { in.Hub.Publish(c.Upserts, c.Removes) })
	in.Translator.OnStatus(in.Board.Update)
	in.Proxy = proxy.New(o.Proxy)

	sink = in.Translator
	if o.Metrics != nil {
		sink = telemetry.NewTranslationMetrics(o.Metrics).WrapSink(in.Translator)
	}
	src := file.New(o.ConfigDir, sink, file.Options{Logger: o.Logger, Debounce: o.Debounce, OnProblems: in.Board.SetProblems})
	if _, err := src.Load(); err != nil {
		return nil, fmt.Errorf("config %s: %w", o.ConfigDir, err)
	}
	sub := in.Hub.Subscribe()
	first, err := sub.Next(ctx)
	if err != nil {
		sub.Close()
		return nil, err
	}
	report := func(version uint64, rej []ir.Rejection) {
		sub.Report(version, rej)
		in.Translator.ReportRejections("", rej) // e.g. a port already taken -> listener status
		if pm != nil {
			pm.ConfigApplied(version, rej)
		}
	}
	report(first.Version, in.Proxy.Apply(first))

	if o.Admin != "" {
		if err := in.startAdmin(o.Admin); err != nil {
			sub.Close()
			_ = in.Proxy.Shutdown(context.Background())
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	in.cancel = cancel
	go func() {
		if err := src.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			o.Logger.Error("config watcher stopped", "error", err)
		}
	}()
	go func() {
		defer close(in.done)
		defer sub.Close()
		_ = in.Proxy.Run(runCtx, sub.Next, report)
	}()
	o.Logger.Info("gatehouse started", "config", o.ConfigDir, "resources", in.Hub.Len())
	return in, nil
}

func (in *Instance) startAdmin(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin %s: %w", addr, err)
	}
	in.AdminAddr = ln.Addr()
	var metrics http.Handler
	if in.opts.Metrics != nil {
		metrics = telemetry.Handler(in.opts.Metrics)
	}
	in.admin = &http.Server{Handler: admin.Handler(admin.Sources{
		Title:      "standalone " + in.opts.ConfigDir,
		Ready:      in.Ready,
		ConfigDump: func() any { return in.Proxy.ConfigDump() },
		Status:     in.Board.Snapshot,
		Problems:   in.Board.ProblemList,
		Metrics:    metrics,
		Endpoints:  in.Proxy.EndpointHealth,
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = in.admin.Serve(ln) }()
	in.log.Info("admin listening", "address", ln.Addr().String())
	return nil
}

// Ready reports whether the gateway should receive traffic: it has applied
// a configuration (so its listeners are bound) and is not shutting down.
func (in *Instance) Ready() bool { return !in.draining.Load() && in.Proxy.Ready() }

// Stop shuts down gracefully: readiness turns false first (the admin /ready
// answers 503), then after ShutdownDelay the listeners stop accepting and
// in-flight requests finish until ctx ends; then every socket and the admin
// server close and pending spans are flushed. The admin server keeps
// answering during the drain so probes see the 503.
func (in *Instance) Stop(ctx context.Context) error {
	in.draining.Store(true)
	if d := in.opts.ShutdownDelay; d > 0 {
		in.log.Info("not ready: waiting before closing listeners", "delay", d.String())
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	in.cancel()
	<-in.done
	err := in.Proxy.Shutdown(ctx)
	if in.admin != nil {
		_ = in.admin.Close()
	}
	if in.opts.Tracer != nil {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if terr := in.opts.Tracer.Shutdown(fctx); terr != nil {
			in.log.Warn("flushing traces", "error", terr)
		}
	}
	return err
}
