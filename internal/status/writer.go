// Package status writes translation status to the Kubernetes API: only the
// leader writes; writes are coalesced per object (a work queue holds keys, not
// versions, so a burst of changes to one object becomes one write); a write is
// skipped when the merged status equals what the object already has; and for
// routes only the status.parents entries of our controllerName are touched —
// other controllers' entries keep their content and order.
package status

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/workqueue"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"gatehouse.dev/gatehouse/internal/translate"
)

// Writer applies status changes to the API server.
type Writer struct {
	log        *slog.Logger
	client     gwclient.Interface
	controller string
	now        func() time.Time

	mu      sync.Mutex
	desired map[string]translate.ObjectStatus // by ObjectStatus.Key()
	removed map[string]bool

	// Dynamic writes the status of our own CRDs (TrafficPolicy); nil
	// skips them.
	Dynamic dynamic.Interface

	queue  workqueue.TypedRateLimitingInterface[string]
	leader atomic.Bool
	writes atomic.Int64
	routes map[string]routeAccess
}

// New returns a Writer for objects of controller.
func New(client gwclient.Interface, controller string, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.Default()
	}
	w := &Writer{log: log, client: client, controller: controller, now: time.Now,
		desired: map[string]translate.ObjectStatus{}, removed: map[string]bool{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "status"})}
	w.routes = w.routeKinds()
	return w
}

// Update records a status change from translation and queues the objects.
// It never blocks on the API server (it runs under the translation lock).
func (w *Writer) Update(c translate.StatusChange) {
	w.mu.Lock()
	for _, s := range c.Updated {
		w.desired[s.Key()] = s
		delete(w.removed, s.Key())
	}
	for _, k := range c.Removed {
		delete(w.desired, k)
		w.removed[k] = true
	}
	w.mu.Unlock()
	if !w.leader.Load() {
		return
	}
	for _, s := range c.Updated {
		w.queue.Add(s.Key())
	}
	for _, k := range c.Removed {
		w.queue.Add(k)
	}
}

// SetLeader turns writing on or off. On becoming leader every known object
// is queued, so a new leader converges the API server to its view.
func (w *Writer) SetLeader(leader bool) {
	if w.leader.Swap(leader) == leader || !leader {
		return
	}
	w.mu.Lock()
	keys := make([]string, 0, len(w.desired)+len(w.removed))
	for k := range w.desired {
		keys = append(keys, k)
	}
	for k := range w.removed {
		keys = append(keys, k)
	}
	w.mu.Unlock()
	for _, k := range keys {
		w.queue.Add(k)
	}
}

// Writes returns how many status updates were sent to the API server.
func (w *Writer) Writes() int64 { return w.writes.Load() }

// QueueLen returns the number of objects waiting to be written.
func (w *Writer) QueueLen() int { return w.queue.Len() }

// Run processes the queue with n workers until ctx ends.
func (w *Writer) Run(ctx context.Context, n int) {
	go func() {
		<-ctx.Done()
		w.queue.ShutDown()
	}()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w.processNext(ctx) {
			}
		}()
	}
	wg.Wait()
}

func (w *Writer) processNext(ctx context.Context) bool {
	key, quit := w.queue.Get()
	if quit {
		return false
	}
	defer w.queue.Done(key)
	if !w.leader.Load() {
		w.queue.Forget(key)
		return true
	}
	w.mu.Lock()
	st, ok := w.desired[key]
	w.mu.Unlock()
	err := w.write(ctx, key, st, ok)
	switch {
	case err == nil || apierrors.IsNotFound(err):
		w.queue.Forget(key)
	case apierrors.IsConflict(err):
		w.queue.AddRateLimited(key)
	default:
		w.log.Warn("status write failed; will retry", "object", key, "error", err)
		w.queue.AddRateLimited(key)
	}
	return true
}

// write applies one object's status. present is false when translation no
// longer reports on the object: then our route parent entries are removed.
func (w *Writer) write(ctx context.Context, key string, st translate.ObjectStatus, present bool) error {
	kind, ns, name, err := splitKey(key)
	if err != nil {
		return nil
	}
	var changed bool
	switch kind {
	case "GatewayClass":
		changed, err = w.writeClass(ctx, name, st, present)
	case "Gateway":
		changed, err = w.writeGateway(ctx, ns, name, st, present)
	case "ListenerSet":
		changed, err = w.writeListenerSet(ctx, ns, name, st, present)
	case "TrafficPolicy":
		changed, err = w.writeTrafficPolicy(ctx, ns, name, st, present)
	case "BackendTLSPolicy":
		changed, err = w.writeBackendTLSPolicy(ctx, ns, name, st, present)
	default:
		if acc, ok := w.routes[kind]; ok {
			changed, err = w.writeRoute(ctx, acc, ns, name, st, present)
		}
	}
	if err == nil && changed {
		w.writes.Add(1)
	}
	return err
}

// splitKey parses ObjectStatus.Key(): "Kind name" or "Kind ns/name".
func splitKey(key string) (kind, ns, name string, err error) {
	kind, rest, ok := strings.Cut(key, " ")
	if !ok {
		return "", "", "", fmt.Errorf("bad key %q", key)
	}
	if n, m, has := strings.Cut(rest, "/"); has {
		return kind, n, m, nil
	}
	return kind, "", rest, nil
}
