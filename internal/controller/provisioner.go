package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/provision"
)

var gatewayParametersResource = schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "gatewayparameters"}

// provisioner keeps one proxy Deployment, Service and ServiceAccount per
// Gateway of ours. Deleting a Gateway deletes them through their owner
// reference (the garbage collector), so only creates and updates are done
// here.
type provisioner struct {
	c      *Controller
	log    *slog.Logger
	queue  workqueue.TypedRateLimitingInterface[string]
	leader atomic.Bool

	mu   sync.Mutex
	seen map[string]bool
}

func newProvisioner(c *Controller, log *slog.Logger) *provisioner {
	return &provisioner{c: c, log: log, seen: map[string]bool{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "provision"})}
}

// enqueue is called by the translator with changed Gateway keys.
func (p *provisioner) enqueue(keys []string) {
	p.mu.Lock()
	for _, k := range keys {
		p.seen[k] = true
	}
	p.mu.Unlock()
	if !p.c.opts.Provision || !p.leader.Load() {
		return
	}
	for _, k := range keys {
		p.queue.Add(k)
	}
}

func (p *provisioner) setLeader(leader bool) {
	if p.leader.Swap(leader) == leader || !leader || !p.c.opts.Provision {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.seen {
		p.queue.Add(k)
	}
}

func (p *provisioner) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		p.queue.ShutDown()
	}()
	for {
		key, quit := p.queue.Get()
		if quit {
			return
		}
		err := p.sync(ctx, key)
		if err != nil {
			p.log.Warn("provisioning failed; will retry", "gateway", key, "error", err)
			p.queue.AddRateLimited(key)
		} else {
			p.queue.Forget(key)
		}
		p.queue.Done(key)
	}
}

func (p *provisioner) sync(ctx context.Context, key string) error {
	if !p.leader.Load() {
		return nil
	}
	gw, ok := p.c.Translator.OurGateway(key)
	if !ok {
		return nil // deleted or not ours: owner references clean up
	}
	params, err := p.parameters(ctx, gw)
	if err != nil {
		return err
	}
	res := provision.Desired(gw, params, p.c.opts.Proxy, p.c.Translator.ListenerSetPorts(key)...)
	if err := provision.ApplyRecorded(ctx, p.c.Source.Kube, res, p.c.onProvision()); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	p.log.Debug("provisioned", "gateway", key, "name", res.Deployment.Name)
	return nil
}

// parameters fetches the GatewayParameters named by
// spec.infrastructure.parametersRef, if any.
func (p *provisioner) parameters(ctx context.Context, gw *gwv1.Gateway) (*v1alpha1.GatewayParameters, error) {
	inf := gw.Spec.Infrastructure
	if inf == nil || inf.ParametersRef == nil {
		return nil, nil
	}
	ref := inf.ParametersRef
	if string(ref.Group) != v1alpha1.GroupName || string(ref.Kind) != "GatewayParameters" {
		return nil, nil
	}
	u, err := p.c.Source.Dynamic.Resource(gatewayParametersResource).Namespace(gw.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("GatewayParameters %s/%s: %w", gw.Namespace, ref.Name, err)
	}
	out := &v1alpha1.GatewayParameters{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return nil, fmt.Errorf("GatewayParameters %s/%s: %w", gw.Namespace, ref.Name, err)
	}
	return out, nil
}
