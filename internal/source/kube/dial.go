package kube

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// Bounds of the apiserver dialer: the dial timeout and keep-alive are
// client-go's defaults; refusals are retried every refusedRetryInterval
// within the same timeout.
const (
	apiServerDialTimeout = 30 * time.Second
	apiServerKeepAlive   = 30 * time.Second
	refusedRetryInterval = 250 * time.Millisecond
)

// withRefusedRetry returns a copy of cfg whose clients wait for a restarting
// apiserver instead of failing at once (see dialRetryingRefused). A Dial the
// caller set is kept.
func withRefusedRetry(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	if cfg.Dial == nil {
		cfg.Dial = dialRetryingRefused(apiServerDialTimeout, refusedRetryInterval)
	}
	return cfg
}

// dialRetryingRefused returns a dial function that treats "connection
// refused" as "not yet": it dials again every interval until a connection
// is made, another error occurs, ctx ends or timeout (the bound a dial has
// anyway) passes; then it returns the last refusal.
//
// Why: while the apiserver restarts its port refuses connections, and
// client-go's reflectors answer each refused list or watch with a backoff
// that doubles from 0.8 s to 30 s (jittered up to twice that) and is not
// reset when the apiserver comes back. In test/k8s TestAPIServerRestart
// (about 14 s from SIGTERM to ready) a route created just after the
// apiserver was ready again was served 21-26 s later; with this dialer the
// watches reconnect within interval of the apiserver listening, and the
// route is served after about 5 s, which is the Retry-After the starting
// apiserver sends for resources it cannot serve yet.
func dialRetryingRefused(timeout, interval time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: apiServerKeepAlive}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var refused error // the last refusal: it says more than "deadline exceeded"
		for {
			conn, err := d.DialContext(ctx, network, addr)
			switch {
			case err == nil:
				return conn, nil
			case errors.Is(err, syscall.ECONNREFUSED):
				refused = err
			case refused != nil && (ctx.Err() != nil || isTimeout(err)): // the end came during a retry
				return nil, refused
			default:
				return nil, err
			}
			select {
			case <-ctx.Done():
				return nil, refused
			case <-time.After(interval):
			}
		}
	}
}

// isTimeout reports a dial that hit its deadline; the dialer can see it
// before ctx.Err() is set.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
