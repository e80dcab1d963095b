package kube

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// refusingAddr returns a loopback address nothing listens on (a port just
// released).
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDialWaitsForRefusingServer: a dial to a port that refuses connects
// once something listens there, as a restarted apiserver does.
func TestDialWaitsForRefusingServer(t *testing.T) {
	addr := refusingAddr(t)
	dial := dialRetryingRefused(time.Minute, 10*time.Millisecond)
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := dial(context.Background(), "tcp", addr)
		done <- result{c, err}
	}()
	time.Sleep(100 * time.Millisecond) // a few refusals first
	select {
	case r := <-done:
		t.Fatalf("dial returned before anything listened: %v", r.err)
	default:
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("dial after the server came back: %v", r.err)
	}
	r.conn.Close()
}

// TestDialGivesUp: refusals end with the refusal at the timeout, and at
// once when ctx ends; other errors are returned at once.
func TestDialGivesUp(t *testing.T) {
	addr := refusingAddr(t)
	t.Run("timeout", func(t *testing.T) {
		_, err := dialRetryingRefused(time.Second, 10*time.Millisecond)(context.Background(), "tcp", addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want connection refused", err)
		}
	})
	t.Run("ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(300 * time.Millisecond); cancel() }()
		_, err := dialRetryingRefused(time.Hour, 10*time.Millisecond)(ctx, "tcp", addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want connection refused", err)
		}
	})
	t.Run("other errors", func(t *testing.T) {
		_, err := dialRetryingRefused(time.Hour, time.Hour)(context.Background(), "tcp", "no-port")
		if err == nil || errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want an address error", err)
		}
	})
}

func TestWithRefusedRetry(t *testing.T) {
	in := &rest.Config{Host: "https://127.0.0.1:6443"}
	out := withRefusedRetry(in)
	if out.Dial == nil || in.Dial != nil {
		t.Errorf("dialer not set on a copy: in.Dial set %v, out.Dial set %v", in.Dial != nil, out.Dial != nil)
	}
	own := func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("mine") }
	if _, err := withRefusedRetry(&rest.Config{Dial: own}).Dial(context.Background(), "tcp", "x:1"); err == nil || err.Error() != "mine" {
		t.Errorf("caller's Dial replaced: %v", err)
	}
}
