package soak

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// upstream is an HTTP server on a fixed 127.0.0.1 port that can be
// restarted on the same port.
type upstream struct {
	addr  string
	delay time.Duration
	mu    sync.Mutex
	srv   *http.Server
}

func startUpstream(t *testing.T, delay time.Duration) *upstream {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: lis.Addr().String(), delay: delay}
	u.serve(lis)
	t.Cleanup(u.stop)
	return u
}

func (u *upstream) serve(lis net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if u.delay > 0 {
			select {
			case <-time.After(u.delay):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})}
	u.mu.Lock()
	u.srv = srv
	u.mu.Unlock()
	go func() { _ = srv.Serve(lis) }()
}

func (u *upstream) stop() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.srv != nil {
		_ = u.srv.Close() // closes every connection, as a crash would
		u.srv = nil
	}
}

// upstreams are the soak's backends: three stable endpoints, an
// alternative for the flipping route, a slow one and a restarted one.
type upstreams struct {
	stable  []*upstream
	alt     *upstream
	slow    *upstream
	restart *upstream

	mu       sync.Mutex
	restarts []time.Time // when each restart began
}

func startUpstreams(t *testing.T) *upstreams {
	return &upstreams{
		stable:  []*upstream{startUpstream(t, 0), startUpstream(t, 0), startUpstream(t, 0)},
		alt:     startUpstream(t, 0),
		slow:    startUpstream(t, 300*time.Millisecond),
		restart: startUpstream(t, 0),
	}
}

// restartLoop stops the restart upstream every 10 s for 500 ms.
func (ups *upstreams) restartLoop(ctx context.Context, t *testing.T) {
	for sleepCtx(ctx, 10*time.Second) {
		ups.mu.Lock()
		ups.restarts = append(ups.restarts, time.Now())
		ups.mu.Unlock()
		ups.restart.stop()
		time.Sleep(500 * time.Millisecond)
		var lis net.Listener
		var err error
		for i := 0; i < 100; i++ {
			if lis, err = net.Listen("tcp", ups.restart.addr); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("restarting the upstream on %s: %v", ups.restart.addr, err)
			return
		}
		ups.restart.serve(lis)
	}
}

// restartExplains reports whether a failure of a request in flight from
// start to end is explained by a restart: its time overlaps the outage
// (500 ms) plus a 2 s allowance for passive ejection to end.
func (ups *upstreams) restartExplains(start, end time.Time) bool {
	ups.mu.Lock()
	defer ups.mu.Unlock()
	for _, r := range ups.restarts {
		if end.After(r) && start.Before(r.Add(2500*time.Millisecond)) {
			return true
		}
	}
	return false
}
