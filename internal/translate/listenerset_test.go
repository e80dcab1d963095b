package translate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/source"
)

const lsBase = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gh}
spec: {controllerName: gatehouse.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared, namespace: infra, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  gatewayClassName: gh
  allowedListeners: {namespaces: {from: All}}
  listeners: [{name: http, port: 80, protocol: HTTP, hostname: www.example.com}]
`

func listenerSetYAML(ns, name, created, hostname string) string {
	return fmt.Sprintf(`
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: %s, namespace: %s, creationTimestamp: %q}
spec:
  parentRef: {name: shared, namespace: infra}
  listeners: [{name: web, port: 80, protocol: HTTP, hostname: %s}]
`, name, ns, created, hostname)
}

func applyYAML(t *testing.T, tr *Translator, docs ...string) {
	t.Helper()
	events, problems := eventsFor(t, "test.yaml", []byte(strings.Join(docs, "\n---\n")))
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	tr.Apply(events)
}

func listenerNames(s Snapshot) []string {
	var out []string
	for _, r := range s.IR {
		if l, ok := r.(*ir.Listener); ok {
			out = append(out, l.Name)
		}
	}
	return out
}

func listenerSetStatus(s Snapshot, ns, name string) *gwv1.ListenerSetStatus {
	for _, st := range s.Status {
		if st.Kind == "ListenerSet" && st.Namespace == ns && st.Name == name {
			return st.ListenerSet
		}
	}
	return nil
}

// TestListenerSetConflictWinnerDeleted checks that when the winner of a
// hostname conflict goes away, the loser is programmed in the same batch,
// while the Gateway's own listener is never touched.
func TestListenerSetConflictWinnerDeleted(t *testing.T) {
	tr := New(DefaultControllerName)
	var changes []IRChange
	tr.OnIR(func(c IRChange) { changes = append(changes, c) })
	applyYAML(t, tr, lsBase,
		listenerSetYAML("team-a", "first", "2026-02-01T00:00:00Z", "app.example.com"),
		listenerSetYAML("team-b", "second", "2026-03-01T00:00:00Z", "app.example.com"))

	s := tr.Snapshot()
	if got, want := listenerNames(s), []string{"infra/shared/http", "infra/shared/team-a/first/web"}; !slices.Equal(got, want) {
		t.Fatalf("listeners = %v, want %v", got, want)
	}
	st := listenerSetStatus(s, "team-b", "second")
	if st == nil || st.Conditions[0].Reason != string(gwv1.ListenerSetReasonListenersNotValid) ||
		st.Listeners[0].Conditions[2].Reason != string(gwv1.ListenerReasonHostnameConflict) {
		t.Fatalf("loser status = %+v, want ListenersNotValid with HostnameConflict", st)
	}
	if msg := st.Listeners[0].Conditions[2].Message; strings.Contains(msg, "team-a") || strings.Contains(msg, "first") {
		t.Errorf("conflict message %q reveals the other tenant", msg)
	}

	changes = nil
	tr.Apply([]source.Event{{Kind: source.KindListenerSet, Namespace: "team-a", Name: "first"}})
	s = tr.Snapshot()
	if got, want := listenerNames(s), []string{"infra/shared/http", "infra/shared/team-b/second/web"}; !slices.Equal(got, want) {
		t.Fatalf("after deleting the winner, listeners = %v, want %v", got, want)
	}
	if st := listenerSetStatus(s, "team-b", "second"); st.Conditions[0].Status != "True" || st.Listeners[0].Conditions[2].Status != "False" {
		t.Errorf("loser after winner deletion: %+v, want accepted and unconflicted", st)
	}
	if len(changes) != 1 {
		t.Fatalf("IR changes = %d batches, want 1", len(changes))
	}
	for _, r := range changes[0].Upserts {
		if r.ResourceID().Name == "infra/shared/http" {
			t.Errorf("the Gateway's own listener was re-sent: %+v", r)
		}
	}
	for _, id := range changes[0].Removes {
		if id.Name == "infra/shared/http" {
			t.Errorf("the Gateway's own listener was removed")
		}
	}
}

// TestListenerSetAllowedListeners walks a Gateway's allowedListeners
// through None, Same and All and checks attachedListenerSets and the
// ListenerSet's Accepted condition.
func TestListenerSetAllowedListeners(t *testing.T) {
	gw := func(from string) string {
		al := ""
		if from != "" {
			al = fmt.Sprintf("allowedListeners: {namespaces: {from: %s}}", from)
		}
		return fmt.Sprintf(`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared, namespace: infra}
spec:
  gatewayClassName: gh
  %s
  listeners: [{name: http, port: 80, protocol: HTTP}]
`, al)
	}
	class := `{apiVersion: gateway.networking.k8s.io/v1, kind: GatewayClass, metadata: {name: gh}, spec: {controllerName: gatehouse.dev/gateway-controller}}`
	sameNS := listenerSetYAML("infra", "local", "2026-02-01T00:00:00Z", "a.example.com")
	otherNS := listenerSetYAML("apps", "remote", "2026-02-01T00:00:00Z", "b.example.com")
	for _, tc := range []struct {
		from          string
		wantAttached  *int32
		local, remote string // Accepted reason
		wantListeners int
	}{
		{"", nil, "NotAllowed", "NotAllowed", 1},
		{"None", nil, "NotAllowed", "NotAllowed", 1},
		{"Same", ptr(int32(1)), "Accepted", "NotAllowed", 2},
		{"All", ptr(int32(2)), "Accepted", "Accepted", 3},
	} {
		t.Run("from="+tc.from, func(t *testing.T) {
			tr := New(DefaultControllerName)
			applyYAML(t, tr, class, gw(tc.from), sameNS, otherNS)
			s := tr.Snapshot()
			var gst *gwv1.GatewayStatus
			for _, st := range s.Status {
				if st.Kind == "Gateway" {
					gst = st.Gateway
				}
			}
			if (gst.AttachedListenerSets == nil) != (tc.wantAttached == nil) ||
				gst.AttachedListenerSets != nil && *gst.AttachedListenerSets != *tc.wantAttached {
				t.Errorf("attachedListenerSets = %v, want %v", gst.AttachedListenerSets, tc.wantAttached)
			}
			if got := listenerSetStatus(s, "infra", "local").Conditions[0].Reason; got != tc.local {
				t.Errorf("same-namespace ListenerSet Accepted reason = %s, want %s", got, tc.local)
			}
			if got := listenerSetStatus(s, "apps", "remote").Conditions[0].Reason; got != tc.remote {
				t.Errorf("other-namespace ListenerSet Accepted reason = %s, want %s", got, tc.remote)
			}
			if got := len(listenerNames(s)); got != tc.wantListeners {
				t.Errorf("programmed listeners = %d, want %d", got, tc.wantListeners)
			}
		})
	}
}

// BenchmarkListenerSetAdd measures translating one new ListenerSet and its
// deletion (one op) on a Gateway that already has sets ListenerSets.
func BenchmarkListenerSetAdd(b *testing.B) {
	for _, sets := range []int{10, 2500} {
		b.Run(fmt.Sprintf("sets=%d", sets), func(b *testing.B) {
			tr := New(DefaultControllerName)
			docs := []string{lsBase}
			for i := 0; i < sets; i++ {
				docs = append(docs, listenerSetYAML(fmt.Sprintf("t%d", i), "base", "2026-02-01T00:00:00Z", fmt.Sprintf("h%d.example.com", i)))
			}
			events, problems := eventsFor(b, "base.yaml", []byte(strings.Join(docs, "\n---\n")))
			if len(problems) > 0 {
				b.Fatal(problems)
			}
			tr.Apply(events)
			b.ResetTimer()
			add, _ := eventsFor(b, "new.yaml", []byte(listenerSetYAML("new", "s", "2026-03-01T00:00:00Z", "n.example.com")))
			del := []source.Event{{Kind: source.KindListenerSet, Namespace: "new", Name: "s"}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tr.Apply(add)
				tr.Apply(del)
			}
		})
	}
}

// TestKubernetesGatewaysDoNotShareSockets checks that in Kubernetes mode,
// where every Gateway has proxies of its own, two Gateways may use the same
// port with different protocols (no cross-Gateway ProtocolConflict), while
// standalone Gateways sharing the process's sockets still conflict.
func TestKubernetesGatewaysDoNotShareSockets(t *testing.T) {
	crt, key := testCertificate(t)
	docs := []string{`{apiVersion: gateway.networking.k8s.io/v1, kind: GatewayClass, metadata: {name: gh}, spec: {controllerName: gatehouse.dev/gateway-controller}}`,
		`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: a, namespace: ns, creationTimestamp: "2026-01-01T00:00:00Z"}, spec: {gatewayClassName: gh, listeners: [{name: l, port: 443, protocol: HTTP}]}}`,
		`{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: b, namespace: ns, creationTimestamp: "2026-02-01T00:00:00Z"}, spec: {gatewayClassName: gh, listeners: [{name: l, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: c}]}}]}}`,
		fmt.Sprintf(`{apiVersion: v1, kind: Secret, metadata: {name: c, namespace: ns}, type: kubernetes.io/tls, data: {tls.crt: %s, tls.key: %s}}`, crt, key),
	}
	for _, tc := range []struct {
		name      string
		opts      []Option
		listeners int
	}{
		{"standalone", nil, 1},
		{"kubernetes", []Option{WithGatewayService(func(ns, gw string) string { return ns + "/" + gw })}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(DefaultControllerName, tc.opts...)
			applyYAML(t, tr, docs...)
			if got := len(listenerNames(tr.Snapshot())); got != tc.listeners {
				t.Errorf("programmed listeners = %d, want %d", got, tc.listeners)
			}
		})
	}
}
