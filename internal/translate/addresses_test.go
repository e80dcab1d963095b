package translate

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

func gatewayStatus(s Snapshot, ns, name string) *gwv1.GatewayStatus {
	for _, st := range s.Status {
		if st.Kind == "Gateway" && st.Namespace == ns && st.Name == name {
			return st.Gateway
		}
	}
	return nil
}

// proxyService is the provisioned Service of Gateway ns/gw with the given
// load-balancer ingress IPs.
func proxyService(ns, gw string, ingress ...string) source.Event {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: gw},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	for _, ip := range ingress {
		svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return source.Event{Kind: source.KindService, Namespace: ns, Name: gw, Object: svc}
}

// TestStaticAddresses checks spec.addresses in Kubernetes mode, as the
// GatewayStaticAddresses conformance test walks it: an unsupported type is
// not accepted; a requested IP the load balancer did not assign makes the
// Gateway not programmed (AddressNotAssigned while it has nothing,
// AddressNotUsable when it assigned others); once every requested IP is
// assigned the Gateway is programmed and reports them.
func TestStaticAddresses(t *testing.T) {
	class := `{apiVersion: gateway.networking.k8s.io/v1, kind: GatewayClass, metadata: {name: gh}, spec: {controllerName: gatehouse.dev/gateway-controller}}`
	gateway := func(addresses string) string {
		return `{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: gw, namespace: ns, generation: 2}, spec: {gatewayClassName: gh, addresses: [` +
			addresses + `], listeners: [{name: http, port: 8080, protocol: HTTP}]}}`
	}
	tests := []struct {
		name      string
		addresses string
		ingress   []string
		accepted  metav1.ConditionStatus
		reason    gwv1.GatewayConditionReason // of Programmed, or of Accepted when not accepted
		message   string                      // a part of the condition's message
		status    []string
	}{
		{"unsupported type", `{type: test/fake-invalid-type, value: "fake"}, {type: IPAddress, value: 10.244.0.200}`,
			[]string{"10.244.0.200"}, metav1.ConditionFalse, gwv1.GatewayReasonUnsupportedAddress, "spec.addresses[0]: type test/fake-invalid-type", []string{"10.244.0.200"}},
		{"not an IP", `{type: IPAddress, value: "not-an-ip"}`,
			nil, metav1.ConditionFalse, gwv1.GatewayReasonUnsupportedAddress, `"not-an-ip" is not an IP address`, nil},
		{"one unusable", `{type: IPAddress, value: 192.0.2.1}, {type: IPAddress, value: 10.244.0.200}`,
			[]string{"10.244.0.200"}, metav1.ConditionTrue, gwv1.GatewayReasonAddressNotUsable, "did not assign 192.0.2.1", []string{"10.244.0.200"}},
		{"none assigned yet", `{value: 10.244.0.200}`,
			nil, metav1.ConditionTrue, gwv1.GatewayReasonAddressNotAssigned, "to assign 10.244.0.200", nil},
		{"all assigned", `{type: IPAddress, value: 10.244.0.200}`,
			[]string{"10.244.0.200"}, metav1.ConditionTrue, gwv1.GatewayReasonProgrammed, "", []string{"10.244.0.200"}},
		{"address without a value", `{type: IPAddress}`,
			[]string{"10.244.3.4"}, metav1.ConditionTrue, gwv1.GatewayReasonProgrammed, "", []string{"10.244.3.4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(DefaultControllerName, WithGatewayService(func(ns, gw string) string { return ns + "/" + gw }))
			applyYAML(t, tr, class, gateway(tc.addresses))
			tr.Apply([]source.Event{proxyService("ns", "gw", tc.ingress...)})
			st := gatewayStatus(tr.Snapshot(), "ns", "gw")
			if st == nil {
				t.Fatal("no Gateway status")
			}
			accepted := meta.FindStatusCondition(st.Conditions, string(gwv1.GatewayConditionAccepted))
			programmed := meta.FindStatusCondition(st.Conditions, string(gwv1.GatewayConditionProgrammed))
			if accepted == nil || programmed == nil {
				t.Fatalf("conditions = %+v", st.Conditions)
			}
			if accepted.Status != tc.accepted {
				t.Errorf("Accepted = %s (%s), want %s", accepted.Status, accepted.Reason, tc.accepted)
			}
			got := programmed
			if tc.accepted == metav1.ConditionFalse {
				got = accepted
			} else if want := tc.reason == gwv1.GatewayReasonProgrammed; (programmed.Status == metav1.ConditionTrue) != want {
				t.Errorf("Programmed = %s, want true = %v", programmed.Status, want)
			}
			if got.Reason != string(tc.reason) || !strings.Contains(got.Message, tc.message) {
				t.Errorf("%s = %s %q, want reason %s with %q", got.Type, got.Reason, got.Message, tc.reason, tc.message)
			}
			var addrs []string
			for _, a := range st.Addresses {
				addrs = append(addrs, a.Value)
			}
			if strings.Join(addrs, ",") != strings.Join(tc.status, ",") {
				t.Errorf("status.addresses = %v, want %v", addrs, tc.status)
			}
		})
	}
}
