package translate

import (
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/source"
)

// DefaultControllerName is the GatewayClass controllerName Gatehouse accepts.
const DefaultControllerName = "gatehouse.dev/gateway-controller"

// Inputs are the engine's input collections, keyed "namespace/name" (or
// "name" for cluster-scoped kinds).
type Inputs struct {
	GatewayClasses *collection.Input[*gwv1.GatewayClass]
	Gateways       *collection.Input[*gwv1.Gateway]
	ListenerSets   *collection.Input[*gwv1.ListenerSet]
	// Routes holds every route kind (HTTPRoute, GRPCRoute, ...), keyed
	// "Kind/namespace/name", so that attachment counts, backend references
	// and outputs are computed once for all kinds.
	Routes          *collection.Input[source.Object]
	ReferenceGrants *collection.Input[*gwv1.ReferenceGrant]
	Services        *collection.Input[*corev1.Service]
	EndpointSlices  *collection.Input[*discoveryv1.EndpointSlice]
	Secrets         *collection.Input[*corev1.Secret]
	ConfigMaps      *collection.Input[*corev1.ConfigMap]
	Namespaces      *collection.Input[*corev1.Namespace]
	StaticBackends  *collection.Input[*v1alpha1.StaticBackend]
	TrafficPolicies *collection.Input[*v1alpha1.TrafficPolicy]
	// BackendTLSPolicies: see backendtls.go.
	BackendTLSPolicies *collection.Input[*gwv1.BackendTLSPolicy]
	// ProxyRejections holds what proxies refused, keyed by Gateway
	// ("namespace/name", or "" for a proxy that serves every Gateway).
	ProxyRejections *collection.Input[[]ir.Rejection]
}

// Translator owns the engine and every collection of the translation graph.
// It implements source.Sink.
type Translator struct {
	controller string
	engine     *collection.Engine
	in         Inputs
	// gatewayService, when set, names the Service whose load-balancer
	// address is the Gateway's address (Kubernetes mode, where Gatehouse
	// provisions one proxy Service per Gateway).
	gatewayService func(namespace, name string) string

	grantsByNamespace collection.Index[*gwv1.ReferenceGrant]
	slicesByService   collection.Index[*discoveryv1.EndpointSlice]

	classes  collection.Collection[*classResult]
	gateways collection.Collection[*gatewayResult]
	// ListenerSets: see listenerset.go.
	listenerSets     collection.Collection[*listenerSetResult]
	listenerMerge    collection.Collection[*mergeResult]
	listenerSetViews collection.Collection[*listenerSetResult]
	listenerSetFinal collection.Collection[*listenerSetFinal]
	routes           collection.Collection[*routeResult]
	gatewayStatus    collection.Collection[*gatewayFinal]
	binds            collection.Collection[*ir.Bind]
	backends         collection.Collection[*ir.Backend]
	certificates     collection.Collection[*ir.Certificate]
	secretRefs       []collection.Collection[int]
	// llmSecretRefs counts the API-key Secrets of StaticBackends' llm
	// sections (llm.go), by "namespace/name".
	llmSecretRefs collection.Collection[int]
	policies      collection.Collection[*policyResult]
	// backendTLSByService indexes BackendTLSPolicies by targeted Service;
	// backendTLS holds their status (backendtls.go).
	backendTLSByService collection.Index[*gwv1.BackendTLSPolicy]
	backendTLS          collection.Collection[*backendTLSResult]

	// cel compiles policy expressions to validate them (the proxy compiles
	// them again for itself).
	cel *cel.Env
}

// sharedCELEnv is built once: a CEL environment is immutable and safe for
// concurrent use, and building one costs milliseconds.
var sharedCELEnv = sync.OnceValues(cel.NewEnv)

// Option configures a Translator.
type Option func(*Translator)

// WithGatewayService makes the Gateway's status.addresses come from the
// load-balancer status of the Service that name(namespace, gateway) returns
// ("namespace/name"); until it has an address the Gateway is not Programmed.
func WithGatewayService(name func(namespace, gateway string) string) Option {
	return func(t *Translator) { t.gatewayService = name }
}

// New builds the translation graph for GatewayClasses whose controllerName is
// controller.
func New(controller string, opts ...Option) *Translator {
	e := collection.NewEngine()
	t := &Translator{controller: controller, engine: e}
	for _, o := range opts {
		o(t)
	}
	env, err := sharedCELEnv()
	if err != nil {
		panic(fmt.Sprintf("translate: CEL environment: %v", err)) // a bug, not user input
	}
	t.cel = env
	t.in = Inputs{
		GatewayClasses:  collection.NewInput[*gwv1.GatewayClass](e, "GatewayClass", nil),
		Gateways:        collection.NewInput[*gwv1.Gateway](e, "Gateway", nil),
		ListenerSets:    collection.NewInput[*gwv1.ListenerSet](e, "ListenerSet", nil),
		Routes:          collection.NewInput[source.Object](e, "Route", nil),
		ReferenceGrants: collection.NewInput[*gwv1.ReferenceGrant](e, "ReferenceGrant", nil),
		Services:        collection.NewInput[*corev1.Service](e, "Service", nil),
		EndpointSlices:  collection.NewInput[*discoveryv1.EndpointSlice](e, "EndpointSlice", nil),
		Secrets:         collection.NewInput[*corev1.Secret](e, "Secret", nil),
		ConfigMaps:      collection.NewInput[*corev1.ConfigMap](e, "ConfigMap", nil),
		Namespaces:      collection.NewInput[*corev1.Namespace](e, "Namespace", nil),
		StaticBackends:  collection.NewInput[*v1alpha1.StaticBackend](e, "StaticBackend", nil),
		TrafficPolicies: collection.NewInput[*v1alpha1.TrafficPolicy](e, "TrafficPolicy", nil),
		ProxyRejections: collection.NewInput[[]ir.Rejection](e, "ProxyRejections", nil),
	}
	t.in.BackendTLSPolicies = collection.NewInput[*gwv1.BackendTLSPolicy](e, "BackendTLSPolicy", nil)
	t.backendTLSByService = collection.AddIndex(t.in.BackendTLSPolicies.Collection, "service", backendTLSTargets)
	t.grantsByNamespace = collection.AddIndex(t.in.ReferenceGrants.Collection, "namespace",
		func(g *gwv1.ReferenceGrant) []string { return []string{g.Namespace} })
	t.slicesByService = collection.AddIndex(t.in.EndpointSlices.Collection, "service",
		func(s *discoveryv1.EndpointSlice) []string {
			if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
				return []string{s.Namespace + "/" + svc}
			}
			return nil
		})

	t.classes = collection.Map(e, "classes", t.in.GatewayClasses.Collection, nil, t.translateClass)
	t.gateways = collection.Map(e, "gateways", t.in.Gateways.Collection, nil, t.translateGateway)
	gatewaysBySecret := collection.AddIndex(t.gateways, "secret", (*gatewayResult).secretKeys)
	gatewaySecretRefs := collection.IndexCounts(collection.AddIndex(t.gateways, "secretRef", (*gatewayResult).secretRefs))

	t.listenerSets = collection.Map(e, "listenerSets", t.in.ListenerSets.Collection, nil, t.translateListenerSet)
	setsByGateway := collection.AddIndex(t.listenerSets, "gateway", (*listenerSetResult).gatewayKeys)
	setsBySecret := collection.AddIndex(t.listenerSets, "secret", (*listenerSetResult).secretKeys)
	setSecretRefs := collection.IndexCounts(collection.AddIndex(t.listenerSets, "secretRef", (*listenerSetResult).secretRefs))
	clientCertRefs := collection.IndexCounts(collection.AddIndex(t.in.Gateways.Collection, "clientCertRef", gatewayClientCertRefs)) // backendtls.go
	t.secretRefs = []collection.Collection[int]{gatewaySecretRefs, setSecretRefs, clientCertRefs}
	t.llmSecretRefs = collection.IndexCounts(collection.AddIndex(t.in.StaticBackends.Collection, "llmSecretRef", llmSecretKeys))
	t.listenerMerge = collection.Map(e, "listenerMerge", t.gateways, nil,
		func(ctx *collection.Ctx, key string, g *gatewayResult) (*mergeResult, bool) {
			entries := collection.FetchIndex(ctx, setsByGateway, key)
			sets := make([]*listenerSetResult, len(entries))
			for i, s := range entries {
				sets[i] = s.Value
			}
			return mergeListeners(g, sets), true
		})
	conflicts := collection.Derive(e, "listenerSetConflicts", t.listenerMerge, nil, setConflicts)
	t.listenerSetViews = collection.Map(e, "listenerSetViews", t.listenerSets, nil,
		func(ctx *collection.Ctx, key string, s *listenerSetResult) (*listenerSetResult, bool) {
			c, _ := collection.Fetch(ctx, conflicts, key)
			return applyConflicts(s, c), true
		})
	attachedSets := collection.AddIndex(t.listenerSetViews, "attached", func(s *listenerSetResult) []string {
		if s.attached() {
			return []string{s.Gateway}
		}
		return nil
	})

	mergesByBind := collection.AddIndex(t.listenerMerge, "bind", (*mergeResult).bindNames)
	t.binds = collection.Map(e, "binds", collection.IndexCounts(mergesByBind), nil,
		func(ctx *collection.Ctx, bind string, _ int) (*ir.Bind, bool) {
			return t.translateBind(ctx, bind, collection.FetchIndex(ctx, mergesByBind, bind))
		})
	t.certificates = collection.Map(e, "certificates", t.in.Secrets.Collection, nil,
		func(ctx *collection.Ctx, key string, s *corev1.Secret) (*ir.Certificate, bool) {
			if collection.CountIndex(ctx, gatewaysBySecret, key)+collection.CountIndex(ctx, setsBySecret, key) == 0 {
				return nil, false // only Secrets a listener uses are ever sent
			}
			return certificateFor(key, s)
		})

	t.routes = collection.Map(e, "routes", t.in.Routes.Collection, nil, t.translateRoute)
	routesByListener := collection.AddIndex(t.routes, "listener", (*routeResult).listenerNames)
	routesByBackend := collection.AddIndex(t.routes, "backend", (*routeResult).backendNames)

	t.gatewayStatus = collection.Map(e, "gatewayStatus", t.gateways, nil,
		func(ctx *collection.Ctx, key string, g *gatewayResult) (*gatewayFinal, bool) {
			return t.finishGateway(ctx, g, routesByListener, attachedSets)
		})
	t.listenerSetFinal = collection.Map(e, "listenerSetFinal", t.listenerSetViews, nil,
		func(ctx *collection.Ctx, key string, s *listenerSetResult) (*listenerSetFinal, bool) {
			return t.finishListenerSet(ctx, s, routesByListener)
		})
	t.backends = t.backendCollection(routesByBackend)
	t.policies = collection.Map(e, "policies", t.in.TrafficPolicies.Collection, nil, t.translatePolicy)
	t.backendTLS = collection.Map(e, "backendTLSPolicies", t.in.BackendTLSPolicies.Collection, nil,
		func(ctx *collection.Ctx, _ string, p *gwv1.BackendTLSPolicy) (*backendTLSResult, bool) {
			return t.translateBackendTLSPolicy(ctx, p, routesByBackend)
		})
	return t
}

// Apply implements source.Sink: the events are applied as one batch.
func (t *Translator) Apply(events []source.Event) {
	t.engine.Update(func(w *collection.Writer) {
		for _, ev := range events {
			t.applyEvent(w, ev)
		}
	})
}

func (t *Translator) applyEvent(w *collection.Writer, ev source.Event) {
	key := ev.Key()
	del := ev.Object == nil
	switch ev.Kind {
	case source.KindGatewayClass:
		write(w, t.in.GatewayClasses, key, ev.Object, del)
	case source.KindGateway:
		write(w, t.in.Gateways, key, ev.Object, del)
	case source.KindListenerSet:
		write(w, t.in.ListenerSets, key, ev.Object, del)
	case source.KindHTTPRoute, source.KindGRPCRoute, source.KindTLSRoute, source.KindTCPRoute:
		write(w, t.in.Routes, routeKey(ev.Kind, key), ev.Object, del)
	case source.KindReferenceGrant:
		write(w, t.in.ReferenceGrants, key, ev.Object, del)
	case source.KindService:
		write(w, t.in.Services, key, ev.Object, del)
	case source.KindEndpointSlice:
		write(w, t.in.EndpointSlices, key, ev.Object, del)
	case source.KindSecret:
		write(w, t.in.Secrets, key, ev.Object, del)
	case source.KindConfigMap:
		write(w, t.in.ConfigMaps, key, ev.Object, del)
	case source.KindNamespace:
		write(w, t.in.Namespaces, key, ev.Object, del)
	case source.KindStaticBackend:
		write(w, t.in.StaticBackends, key, ev.Object, del)
	case source.KindTrafficPolicy:
		write(w, t.in.TrafficPolicies, key, ev.Object, del)
	case source.KindBackendTLSPolicy:
		write(w, t.in.BackendTLSPolicies, key, ev.Object, del)
	}
}

// routeKey is the key of a route of any kind in Inputs.Routes.
func routeKey(kind, key string) string { return kind + "/" + key }

func write[T source.Object](w *collection.Writer, in *collection.Input[T], key string, obj source.Object, del bool) {
	if del {
		in.Delete(w, key)
		return
	}
	if v, ok := obj.(T); ok {
		in.Set(w, key, v)
	}
}

// Snapshot is the complete current output: the IR and every status.
type Snapshot struct {
	IR     []ir.Resource
	Status []ObjectStatus
}

// Snapshot returns the current IR (sorted by kind and name) and status.
func (t *Translator) Snapshot() Snapshot {
	var s Snapshot
	for _, b := range t.binds.Snapshot() {
		s.IR = append(s.IR, b.Value)
	}
	for _, g := range t.gatewayStatus.Snapshot() {
		for _, l := range g.Value.Listeners {
			s.IR = append(s.IR, l)
		}
		s.Status = append(s.Status, g.Value.Status)
	}
	for _, f := range t.listenerSetFinal.Snapshot() {
		for _, l := range f.Value.Listeners {
			s.IR = append(s.IR, l)
		}
		s.Status = append(s.Status, f.Value.Status)
	}
	for _, c := range t.certificates.Snapshot() {
		s.IR = append(s.IR, c.Value)
	}
	for _, r := range t.routes.Snapshot() {
		for _, rule := range r.Value.Rules {
			s.IR = append(s.IR, rule)
		}
		if r.Value.L4 != nil {
			s.IR = append(s.IR, r.Value.L4)
		}
		if r.Value.Status != nil {
			s.Status = append(s.Status, *r.Value.Status)
		}
	}
	for _, b := range t.backends.Snapshot() {
		s.IR = append(s.IR, b.Value)
	}
	for _, c := range t.classes.Snapshot() {
		s.Status = append(s.Status, c.Value.Status)
	}
	for _, p := range t.policies.Snapshot() {
		s.IR = append(s.IR, p.Value.IR)
		s.Status = append(s.Status, p.Value.Status)
	}
	for _, p := range t.backendTLS.Snapshot() {
		s.Status = append(s.Status, p.Value.Status)
	}
	sort.SliceStable(s.IR, func(a, b int) bool {
		ia, ib := s.IR[a].ResourceID(), s.IR[b].ResourceID()
		if ia.Kind != ib.Kind {
			return kindOrder[ia.Kind] < kindOrder[ib.Kind]
		}
		return ia.Name < ib.Name
	})
	sort.SliceStable(s.Status, func(a, b int) bool { return s.Status[a].less(s.Status[b]) })
	return s
}

var kindOrder = map[ir.Kind]int{ir.KindBind: 0, ir.KindListener: 1, ir.KindCertificate: 2, ir.KindRoute: 3, ir.KindBackend: 4, ir.KindPolicy: 5, ir.KindL4Route: 6}

// OnSecretRefs registers fn to receive, after every batch that changed
// them, the keys ("namespace/name") of Secrets that listeners of our Gateways
// reference, whether or not they exist. The Kubernetes source uses it to
// fetch only referenced Secrets. fn runs under the engine lock.
func (t *Translator) OnSecretRefs(fn func(keys []string)) {
	changed := false
	for _, c := range t.secretRefs {
		c.Subscribe(func([]collection.Change[int]) { changed = true })
	}
	t.engine.AfterBatch(func() {
		if !changed {
			return
		}
		changed = false
		seen := map[string]bool{}
		keys := make([]string, 0)
		for _, c := range t.secretRefs {
			for _, e := range c.Peek() {
				if !seen[e.Key] {
					seen[e.Key] = true
					keys = append(keys, e.Key)
				}
			}
		}
		sort.Strings(keys)
		fn(keys)
	})
}

// ReportRejections records what the proxies serving gateway ("namespace/name",
// or "" for a proxy serving every Gateway) refused in their last answer, so
// status can say so: a listener whose socket could not be opened (a port
// already taken) gets Accepted=False with reason PortUnavailable. An empty
// list clears the report.
func (t *Translator) ReportRejections(gateway string, rejections []ir.Rejection) {
	t.engine.Update(func(w *collection.Writer) {
		if len(rejections) == 0 {
			t.in.ProxyRejections.Delete(w, gateway)
			return
		}
		t.in.ProxyRejections.Set(w, gateway, append([]ir.Rejection(nil), rejections...))
	})
}
