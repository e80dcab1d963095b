// Package kube is the Kubernetes API source: client-go informers for the
// Gateway API resources, core objects and Gatehouse's own CRDs, turned into
// batches of source.Event for the translator. Objects are stripped of
// managedFields before they are cached. Secrets are watched lazily: only
// kubernetes.io/tls Secrets, only in namespaces where a listener references
// one (see WatchSecretNamespaces).
package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/source"
)

// GroupVersionResources of our own CRDs.
var (
	StaticBackendResource = schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "staticbackends"}
	TrafficPolicyResource = schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "trafficpolicies"}
)

// Options configures a Source.
type Options struct {
	Logger *slog.Logger
	// BatchDelay is how long the source waits for more events before it
	// hands a batch to the sink (default 1ms).
	BatchDelay time.Duration
}

// Source feeds a sink from the Kubernetes API.
type Source struct {
	log  *slog.Logger
	opts Options
	sink source.Sink

	Kube    kubernetes.Interface
	Gateway gwclient.Interface
	Dynamic dynamic.Interface

	mu       sync.Mutex
	flushMu  sync.Mutex
	pending  []source.Event
	signal   chan struct{}
	synced   bool
	syncedCh chan struct{}

	secretsMu sync.Mutex
	secrets   map[string]*nsInformer // namespace -> running TLS Secret informer
	// namedSecrets are single-Secret informers ("namespace/name"), see
	// WatchNamedSecrets.
	namedSecrets map[string]*nsInformer
}

// New creates the clients for cfg. Nothing runs until Run. Unless cfg has
// its own Dial, the clients wait for a refusing (restarting) apiserver
// within the dial timeout rather than fail at once (dialRetryingRefused).
func New(cfg *rest.Config, sink source.Sink, o Options) (*Source, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BatchDelay == 0 {
		o.BatchDelay = time.Millisecond
	}
	cfg = withRefusedRetry(cfg)
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	gc, err := gwclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway-api client: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return &Source{log: o.Logger, opts: o, sink: sink, Kube: kc, Gateway: gc, Dynamic: dc,
		signal: make(chan struct{}, 1), syncedCh: make(chan struct{}), secrets: map[string]*nsInformer{}}, nil
}

// Run starts the informers, sends everything they list as one batch once
// they are synced, then streams changes in small batches until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	core := informers.NewSharedInformerFactoryWithOptions(s.Kube, 0, informers.WithTransform(stripObject))
	gw := gwinformers.NewSharedInformerFactoryWithOptions(s.Gateway, 0, gwinformers.WithTransform(stripObject))
	dyn := dynamicinformer.NewDynamicSharedInformerFactory(s.Dynamic, 0)

	s.watch(gw.Gateway().V1().GatewayClasses().Informer(), source.KindGatewayClass)
	s.watch(gw.Gateway().V1().Gateways().Informer(), source.KindGateway)
	s.watch(gw.Gateway().V1().HTTPRoutes().Informer(), source.KindHTTPRoute)
	// Kinds newer than the Gateway API CRDs a cluster may have installed
	// are watched only when served, so an older install still syncs.
	served := s.servedGatewayResources()
	if served["listenersets"] {
		s.watch(gw.Gateway().V1().ListenerSets().Informer(), source.KindListenerSet)
	} else {
		s.log.Warn("ListenerSets are not served by this cluster (install the Gateway API v1.5+ CRDs); ListenerSet support is off")
	}
	if served["grpcroutes"] {
		s.watch(gw.Gateway().V1().GRPCRoutes().Informer(), source.KindGRPCRoute)
	} else {
		s.log.Warn("GRPCRoutes (gateway.networking.k8s.io/v1) are not served by this cluster (install the Gateway API v1.1+ CRDs); GRPCRoute support is off")
	}
	for _, l4 := range []struct{ resource, kind string }{{"tlsroutes", source.KindTLSRoute}, {"tcproutes", source.KindTCPRoute}} {
		switch {
		case !served[l4.resource]:
			s.log.Warn(l4.kind + "s (gateway.networking.k8s.io/v1) are not served by this cluster (install the Gateway API v1.5+ CRDs); " + l4.kind + " support is off")
		case l4.kind == source.KindTLSRoute:
			s.watch(gw.Gateway().V1().TLSRoutes().Informer(), l4.kind)
		default:
			s.watch(gw.Gateway().V1().TCPRoutes().Informer(), l4.kind)
		}
	}
	if served["backendtlspolicies"] {
		s.watch(gw.Gateway().V1().BackendTLSPolicies().Informer(), source.KindBackendTLSPolicy)
	} else {
		s.log.Warn("BackendTLSPolicies (gateway.networking.k8s.io/v1) are not served by this cluster (install the Gateway API v1.4+ CRDs); BackendTLSPolicy support is off")
	}
	s.watch(gw.Gateway().V1().ReferenceGrants().Informer(), source.KindReferenceGrant)
	s.watch(core.Core().V1().Services().Informer(), source.KindService)
	s.watch(core.Discovery().V1().EndpointSlices().Informer(), source.KindEndpointSlice)
	s.watch(core.Core().V1().Namespaces().Informer(), source.KindNamespace)
	s.watch(core.Core().V1().ConfigMaps().Informer(), source.KindConfigMap)
	sb := dyn.ForResource(StaticBackendResource).Informer()
	_ = sb.SetTransform(stripObject)
	s.watch(sb, source.KindStaticBackend)
	tp := dyn.ForResource(TrafficPolicyResource).Informer()
	_ = tp.SetTransform(stripObject)
	s.watch(tp, source.KindTrafficPolicy)

	core.Start(ctx.Done())
	gw.Start(ctx.Done())
	dyn.Start(ctx.Done())
	s.log.Info("waiting for informer caches")
	for typ, ok := range core.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %v did not sync", typ)
		}
	}
	for typ, ok := range gw.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %v did not sync (are the Gateway API CRDs installed?)", typ)
		}
	}
	if !cache.WaitForCacheSync(ctx.Done(), sb.HasSynced, tp.HasSynced) {
		return fmt.Errorf("caches for StaticBackends and TrafficPolicies did not sync (are the gatehouse.dev CRDs installed?)")
	}
	s.log.Info("informer caches synced")
	s.flushLoop(ctx)
	s.stopAllSecrets()
	return nil
}

// WaitSynced blocks until the initial lists were delivered to the sink (so
// the translator holds the whole cluster's config) or ctx ends.
func (s *Source) WaitSynced(ctx context.Context) error {
	select {
	case <-s.syncedCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Synced reports whether the initial lists were delivered.
func (s *Source) Synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced
}

func (s *Source) watch(inf cache.SharedIndexInformer, kind string) {
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.enqueue(kind, obj, false) },
		UpdateFunc: func(_, obj any) { s.enqueue(kind, obj, false) },
		DeleteFunc: func(obj any) { s.enqueue(kind, obj, true) },
	})
}

// enqueue converts an informer object to an event and queues it.
func (s *Source) enqueue(kind string, obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = t.Obj, true
	}
	o, err := typed(kind, obj)
	if err != nil {
		s.log.Warn("cannot decode object", "kind", kind, "error", err)
		return
	}
	ev := source.Event{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName(), Object: o}
	if deleted {
		ev.Object = nil
	}
	s.mu.Lock()
	s.pending = append(s.pending, ev)
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// typed returns obj as a source.Object, converting unstructured objects of
// our own kinds to their Go types.
func typed(kind string, obj any) (source.Object, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		var out source.Object
		switch kind {
		case source.KindStaticBackend:
			out = &v1alpha1.StaticBackend{}
		case source.KindTrafficPolicy:
			out = &v1alpha1.TrafficPolicy{}
		default:
			return nil, fmt.Errorf("unexpected unstructured %s", kind)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", kind, u.GetNamespace(), u.GetName(), err)
		}
		return out, nil
	}
	o, ok := obj.(source.Object)
	if !ok {
		return nil, fmt.Errorf("%s: unexpected type %T", kind, obj)
	}
	return o, nil
}

// flushLoop hands queued events to the sink in batches: after a signal it
// waits BatchDelay for more, so a burst becomes one translation.
func (s *Source) flushLoop(ctx context.Context) {
	s.flush() // the initial lists, as one batch
	s.mu.Lock()
	s.synced = true
	close(s.syncedCh)
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.signal:
		}
		time.Sleep(s.opts.BatchDelay)
		s.flush()
	}
}

// flush hands everything queued to the sink. flushMu keeps batches in
// order when two goroutines flush at once.
func (s *Source) flush() {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(batch) > 0 {
		s.sink.Apply(batch)
	}
}

// stripObject drops what the translator never reads before the object is
// cached: managedFields everywhere, and the last-applied annotation.
func stripObject(obj any) (any, error) {
	if a, ok := obj.(metav1.Object); ok {
		a.SetManagedFields(nil)
		if ann := a.GetAnnotations(); ann != nil {
			if _, has := ann[corev1.LastAppliedConfigAnnotation]; has {
				cp := make(map[string]string, len(ann))
				for k, v := range ann {
					if k != corev1.LastAppliedConfigAnnotation {
						cp[k] = v
					}
				}
				a.SetAnnotations(cp)
			}
		}
	}
	return obj, nil
}

// servedGatewayResources lists the resources the apiserver serves in
// gateway.networking.k8s.io/v1. On a discovery error it assumes every kind
// is served (the informers then report what is missing).
func (s *Source) servedGatewayResources() map[string]bool {
	out := map[string]bool{}
	list, err := s.Gateway.Discovery().ServerResourcesForGroupVersion("gateway.networking.k8s.io/v1")
	if err != nil {
		s.log.Warn("discovery of gateway.networking.k8s.io/v1 failed; assuming every kind is served", "error", err)
		for _, r := range []string{"listenersets", "grpcroutes", "tlsroutes", "tcproutes", "backendtlspolicies"} {
			out[r] = true
		}
		return out
	}
	for _, r := range list.APIResources {
		out[r.Name] = true
	}
	return out
}
