package podsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTransient(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("Get: %w", refused), true},
		{apierrors.NewConflict(pods, "p", errors.New("changed")), true},
		{apierrors.NewTooManyRequests("not ready", 1), true},
		{apierrors.NewServiceUnavailable("starting"), true},
		{apierrors.NewInternalError(errors.New("etcd")), true},
		{apierrors.NewTimeoutError("slow", 1), true},
		{apierrors.NewNotFound(pods, "p"), false},
		{apierrors.NewBadRequest("bad"), false},
		{apierrors.NewForbidden(pods, "p", errors.New("no")), false},
		{context.Canceled, false},
		{fmt.Errorf("Get: %w", context.DeadlineExceeded), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRetryTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	t.Run("retries until the write lands", func(t *testing.T) {
		calls, retries := 0, 0
		err := retryTransient(context.Background(), time.Millisecond, 4*time.Millisecond, func() error {
			if calls++; calls < 5 {
				return refused
			}
			return nil
		}, func(error) { retries++ })
		if err != nil || calls != 5 || retries != 4 {
			t.Errorf("err %v after %d calls, %d retries; want nil after 5 calls, 4 retries", err, calls, retries)
		}
	})
	t.Run("stops at an error that is not transient", func(t *testing.T) {
		calls := 0
		gone := apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p")
		err := retryTransient(context.Background(), time.Millisecond, time.Millisecond, func() error {
			if calls++; calls < 3 {
				return refused
			}
			return gone
		}, func(error) {})
		if !apierrors.IsNotFound(err) || calls != 3 {
			t.Errorf("err %v after %d calls, want NotFound after 3", err, calls)
		}
	})
	t.Run("stops when the pod goes away", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := retryTransient(ctx, time.Millisecond, time.Millisecond, func() error {
			if calls++; calls == 3 {
				cancel()
			}
			return refused
		}, func(error) {})
		if err == nil || calls != 3 {
			t.Errorf("err %v after %d calls, want an error after 3", err, calls)
		}
	})
}
