package translate

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/testkit"
)

// variants returns, per object key, several versions of the object, so random
// event sequences create, change and delete related objects.
func variants(t *testing.T) map[string][]source.Event {
	t.Helper()
	var docs []string
	add := func(format string, args ...any) { docs = append(docs, fmt.Sprintf(format, args...)) }
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: GatewayClass, metadata: {name: gh}, spec: {controllerName: gatehouse.dev/gateway-controller}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: GatewayClass, metadata: {name: gh}, spec: {controllerName: example.com/other}}`)
	for _, gw := range []string{"g1", "g2"} {
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: %s, namespace: infra}, spec: {gatewayClassName: gh, listeners: [{name: http, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}]}}`, gw)
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: %s, namespace: infra}, spec: {gatewayClassName: gh, listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: x}}}}}, {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert, namespace: apps}]}, allowedRoutes: {namespaces: {from: All}}}]}}`, gw)
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: %s, namespace: infra}, spec: {gatewayClassName: gh, listeners: [{name: http, port: 8080, protocol: HTTPS, tls: {certificateRefs: [{name: cert, namespace: apps}]}}]}}`, gw)
	}
	// ListenerSets: g1 variants that allow them, sets that conflict with
	// each other and with g1's own listeners, routes attached to them.
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: g1, namespace: infra}, spec: {gatewayClassName: gh, allowedListeners: {namespaces: {from: All}}, listeners: [{name: http, port: 80, protocol: HTTP, hostname: www.example.com}]}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: g1, namespace: infra}, spec: {gatewayClassName: gh, allowedListeners: {namespaces: {from: Selector, selector: {matchLabels: {team: x}}}}, listeners: [{name: http, port: 80, protocol: HTTP, hostname: a.example.com}]}}`)
	for i, ts := range []string{"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"} {
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: ListenerSet, metadata: {name: ls%d, namespace: apps, creationTimestamp: "%s"}, spec: {parentRef: {name: g1, namespace: infra}, listeners: [{name: web, port: 80, protocol: HTTP, hostname: a.example.com, allowedRoutes: {namespaces: {from: All}}}]}}`, i, ts)
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: ListenerSet, metadata: {name: ls%d, namespace: apps, creationTimestamp: "%s"}, spec: {parentRef: {name: g1, namespace: infra}, listeners: [{name: web, port: 80, protocol: HTTP, hostname: b.example.com}, {name: tls, port: 443, protocol: HTTPS, hostname: b.example.com, tls: {certificateRefs: [{name: cert}]}}]}}`, i, ts)
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: ListenerSet, metadata: {name: ls%d, namespace: apps, creationTimestamp: "%s"}, spec: {parentRef: {name: g2, namespace: infra}, listeners: [{name: web, port: 443, protocol: HTTP}]}}`, i, ts)
	}
	for i := 0; i < 2; i++ {
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, metadata: {name: lr%d, namespace: apps}, spec: {parentRefs: [{kind: ListenerSet, name: ls%d}], rules: [{backendRefs: [{name: s0, port: 80}]}]}}`, i, i)
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, metadata: {name: lr%d, namespace: apps}, spec: {parentRefs: [{kind: ListenerSet, name: ls%d, sectionName: tls}, {name: g1, namespace: infra}], rules: [{backendRefs: [{name: s1, port: 80}]}]}}`, i, (i+1)%3)
	}
	for i := 0; i < 4; i++ {
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, metadata: {name: r%d, namespace: apps}, spec: {parentRefs: [{name: g1, namespace: infra}], hostnames: [a.example.com], rules: [{backendRefs: [{name: s%d, port: 80}]}]}}`, i, i%2)
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, metadata: {name: r%d, namespace: apps}, spec: {parentRefs: [{name: g1, namespace: infra}, {name: g2, namespace: infra, sectionName: https}], rules: [{matches: [{path: {type: PathPrefix, value: /x}}], backendRefs: [{name: s1, port: 80}, {name: s2, namespace: other, port: 80}]}, {backendRefs: [{name: s0, port: 81}]}]}}`, i)
	}
	for i := 0; i < 2; i++ {
		add(`{apiVersion: v1, kind: Service, metadata: {name: s%d, namespace: apps}, spec: {ports: [{name: http, port: 80}]}}`, i)
		add(`{apiVersion: v1, kind: Service, metadata: {name: s%d, namespace: apps}, spec: {ports: [{name: http, port: 80}, {name: alt, port: 81}]}}`, i)
		add(`{apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: {name: s%d-a, namespace: apps, labels: {kubernetes.io/service-name: s%d}}, addressType: IPv4, ports: [{name: http, port: 8080}], endpoints: [{addresses: [10.0.0.%d]}]}`, i, i, i+1)
		add(`{apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: {name: s%d-a, namespace: apps, labels: {kubernetes.io/service-name: s%d}}, addressType: IPv4, ports: [{name: http, port: 8080}, {name: alt, port: 9090}], endpoints: [{addresses: [10.0.1.%d]}]}`, i, i, i+1)
	}
	add(`{apiVersion: v1, kind: Service, metadata: {name: s2, namespace: other}, spec: {ports: [{port: 80}]}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1beta1, kind: ReferenceGrant, metadata: {name: g, namespace: other}, spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}], to: [{group: "", kind: Service}]}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1beta1, kind: ReferenceGrant, metadata: {name: c, namespace: apps}, spec: {from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}], to: [{group: "", kind: Secret}]}}`)
	add(`{apiVersion: v1, kind: Namespace, metadata: {name: apps, labels: {team: x}}}`)
	add(`{apiVersion: v1, kind: Namespace, metadata: {name: apps, labels: {team: z}}}`)
	// TLSRoute and TCPRoute (l4route.go): a g2 variant with TLS (both
	// modes) and TCP listeners, routes that attach, miss or are replaced.
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: g2, namespace: infra}, spec: {gatewayClassName: gh, listeners: [{name: pass, port: 443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}, allowedRoutes: {namespaces: {from: All}}}, {name: term, port: 443, protocol: TLS, hostname: t.example.org, tls: {certificateRefs: [{name: cert, namespace: apps}]}, allowedRoutes: {namespaces: {from: All}}}, {name: tcp, port: 9000, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}]}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: TLSRoute, metadata: {name: t0, namespace: apps}, spec: {parentRefs: [{name: g2, namespace: infra}], hostnames: [a.example.com, t.example.org], rules: [{backendRefs: [{name: s0, port: 80}]}]}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: TLSRoute, metadata: {name: t0, namespace: apps}, spec: {parentRefs: [{name: g2, namespace: infra, sectionName: pass}], hostnames: [b.example.net], rules: [{backendRefs: [{name: s2, namespace: other, port: 80}]}]}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: TCPRoute, metadata: {name: c0, namespace: apps}, spec: {parentRefs: [{name: g2, namespace: infra, port: 9000}], rules: [{backendRefs: [{name: s0, port: 80, weight: 3}, {name: s1, port: 81}]}]}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: TCPRoute, metadata: {name: c0, namespace: apps}, spec: {parentRefs: [{name: g1, namespace: infra}], rules: [{backendRefs: [{name: s1, port: 80}]}]}}`)
	// GRPCRoute and BackendTLSPolicy (grpcroute.go, backendtls.go).
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: GRPCRoute, metadata: {name: r0, namespace: apps}, spec: {parentRefs: [{name: g1, namespace: infra}], rules: [{matches: [{method: {service: a.B, method: C}}], backendRefs: [{name: s0, port: 80}]}]}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: GRPCRoute, metadata: {name: r0, namespace: apps}, spec: {parentRefs: [{name: g2, namespace: infra}], hostnames: [a.example.com], rules: [{backendRefs: [{name: s1, port: 80}]}]}}`)
	for i, ts := range []string{"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"} {
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: BackendTLSPolicy, metadata: {name: p%d, namespace: apps, creationTimestamp: "%s"}, spec: {targetRefs: [{group: "", kind: Service, name: s0}], validation: {hostname: s0.internal, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}}`, i, ts)
		add(`{apiVersion: gateway.networking.k8s.io/v1, kind: BackendTLSPolicy, metadata: {name: p%d, namespace: apps, creationTimestamp: "%s"}, spec: {targetRefs: [{group: "", kind: Service, name: s1, sectionName: http}], validation: {hostname: s1.internal, wellKnownCACertificates: System}}}`, i, ts)
	}
	caPEM, _ := testCertificate(t)
	add(`{apiVersion: v1, kind: ConfigMap, metadata: {name: ca, namespace: apps}, data: {ca.crt: %q}}`, decodeBase64(t, caPEM))
	add(`{apiVersion: v1, kind: ConfigMap, metadata: {name: ca, namespace: apps}, data: {ca.crt: "not a certificate"}}`)
	add(`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: g2, namespace: infra}, spec: {gatewayClassName: gh, tls: {backend: {clientCertificateRef: {name: cert, namespace: apps}}}, listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]}}`)
	crt, key := testCertificate(t)
	add(`{apiVersion: v1, kind: Secret, metadata: {name: cert, namespace: apps}, type: kubernetes.io/tls, data: {tls.crt: %s, tls.key: %s}}`, crt, key)
	add(`{apiVersion: v1, kind: Secret, metadata: {name: cert, namespace: apps}, type: kubernetes.io/tls, stringData: {tls.crt: garbage, tls.key: garbage}}`)

	events, problems := eventsFor(t, "variants.yaml", []byte(strings.Join(docs, "\n---\n")))
	if len(problems) > 0 {
		t.Fatalf("variant problems: %v", problems)
	}
	out := map[string][]source.Event{}
	for _, ev := range events {
		k := ev.Kind + "/" + ev.Key()
		out[k] = append(out[k], ev)
	}
	return out
}

// TestIncrementalEqualsFromScratch checks the translation graph's central
// property: for random sequences of creates, updates and deletes applied in
// random batches, the incremental output equals a from-scratch translation
// of the final objects.
func TestIncrementalEqualsFromScratch(t *testing.T) {
	pool := variants(t)
	keys := make([]string, 0, len(pool))
	for k := range pool {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for seed := uint64(0); seed < 150; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		inc := New(DefaultControllerName)
		final := map[string]source.Event{}
		for batch := 0; batch < 12; batch++ {
			var evs []source.Event
			for n := 1 + r.IntN(6); n > 0; n-- {
				k := keys[r.IntN(len(keys))]
				if r.IntN(4) == 0 {
					ev := pool[k][0]
					ev.Object = nil
					evs = append(evs, ev)
					delete(final, k)
					continue
				}
				ev := pool[k][r.IntN(len(pool[k]))]
				evs = append(evs, ev)
				final[k] = ev
			}
			inc.Apply(evs)
		}
		fresh := New(DefaultControllerName)
		var all []source.Event
		for _, k := range keys {
			if ev, ok := final[k]; ok {
				all = append(all, ev)
			}
		}
		fresh.Apply(all)
		got, _, _ := inc.RenderYAML(nil)
		want, _, _ := fresh.RenderYAML(nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: incremental differs from scratch:\n%s", seed, testkit.LineDiff(string(want), string(got)))
		}
	}
}

// TestIRStreamEqualsSnapshot replays the IR change stream (what proxies
// receive) and checks it ends equal to the snapshot.
func TestIRStreamEqualsSnapshot(t *testing.T) {
	pool := variants(t)
	keys := make([]string, 0, len(pool))
	for k := range pool {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for seed := uint64(0); seed < 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 5))
		tr := New(DefaultControllerName)
		state := map[string]string{}
		tr.OnIR(func(c IRChange) {
			for _, id := range c.Removes {
				delete(state, id.String())
			}
			for _, u := range c.Upserts {
				state[u.ResourceID().String()] = fmt.Sprintf("%+v", u)
			}
		})
		for batch := 0; batch < 15; batch++ {
			k := keys[r.IntN(len(keys))]
			ev := pool[k][r.IntN(len(pool[k]))]
			if r.IntN(4) == 0 {
				ev.Object = nil
			}
			tr.Apply([]source.Event{ev})
		}
		want := map[string]string{}
		for _, res := range tr.Snapshot().IR {
			want[res.ResourceID().String()] = fmt.Sprintf("%+v", res)
		}
		if fmt.Sprint(state) != fmt.Sprint(want) {
			t.Fatalf("seed %d: streamed IR\n%v\n!= snapshot\n%v", seed, state, want)
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
