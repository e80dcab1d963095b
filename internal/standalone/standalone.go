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
	"time"

	"gatehouse.dev/gatehouse/internal/admin"
	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/status"
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
	// Proxy configures the data plane.
	Proxy  proxy.Options
	Logger *slog.Logger
}

// Instance is a running standalone gateway.
type Instance struct {
	Proxy      *proxy.Proxy
	Translator *translate.Translator
	Hub        *distribute.Hub
	Board      *status.Board
	// AdminAddr is the bound admin address (nil when disabled).
	AdminAddr net.Addr

	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	admin  *http.Server
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
	in := &Instance{log: o.Logger, done: make(chan struct{})}
	in.Translator = translate.New(o.ControllerName)
	in.Hub = distribute.NewHub()
	in.Board = status.NewBoard(o.Logger)
	in.Translator.OnIR(func(c translate.IRChange) { in.Hub.Publish(c.Upserts, c.Removes) })
	in.Translator.OnStatus(in.Board.Update)
	in.Proxy = proxy.New(o.Proxy)

	src := file.New(o.ConfigDir, in.Translator, file.Options{Logger: o.Logger, Debounce: o.Debounce, OnProblems: in.Board.SetProblems})
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
	in.admin = &http.Server{Handler: admin.Handler(admin.Sources{
		Ready:      in.Proxy.Ready,
		ConfigDump: func() any { return in.Proxy.ConfigDump() },
		Status:     in.Board.Snapshot,
		Problems:   in.Board.ProblemList,
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = in.admin.Serve(ln) }()
	in.log.Info("admin listening", "address", ln.Addr().String())
	return nil
}

// Stop stops watching, drains in-flight requests until ctx ends, and closes
// every socket.
func (in *Instance) Stop(ctx context.Context) error {
	in.cancel()
	<-in.done
	if in.admin != nil {
		_ = in.admin.Close()
	}
	return in.Proxy.Shutdown(ctx)
}
