package provision

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestGatewayAddresses(t *testing.T) {
	lb := func(ingress ...corev1.LoadBalancerIngress) *corev1.Service {
		return &corev1.Service{
			Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.10"},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: ingress}},
		}
	}
	clusterIP := func(ips ...string) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ips[0], ClusterIPs: ips[1:]}}
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want []string // "Type=Value"
	}{
		{"nil Service", nil, nil},
		{"load balancer not ready yet", lb(), nil},
		{"load balancer IPs and hostname", lb(
			corev1.LoadBalancerIngress{IP: "203.0.113.7"},
			corev1.LoadBalancerIngress{Hostname: "lb.example.com"},
			corev1.LoadBalancerIngress{IP: "2001:db8::7"},
		), []string{"IPAddress=203.0.113.7", "Hostname=lb.example.com", "IPAddress=2001:db8::7"}},
		{"ClusterIP", clusterIP("10.96.0.10"), []string{"IPAddress=10.96.0.10"}},
		{"dual-stack ClusterIP uses clusterIPs", clusterIP("10.96.0.10", "10.96.0.10", "fd00::10"), []string{"IPAddress=10.96.0.10", "IPAddress=fd00::10"}},
		{"headless", clusterIP("None"), nil},
		{"NodePort", &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range GatewayAddresses(tt.svc) {
				got = append(got, fmt.Sprintf("%s=%s", *a.Type, a.Value))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GatewayAddresses = %q, want %q", got, tt.want)
			}
		})
	}
	// Each address has its own Type pointer, so status writers may keep them.
	addrs := GatewayAddresses(lb(corev1.LoadBalancerIngress{IP: "203.0.113.7", Hostname: "lb.example.com"}))
	if len(addrs) != 2 || addrs[0].Type == addrs[1].Type || *addrs[1].Type != gwv1.HostnameAddressType {
		t.Errorf("addresses = %+v", addrs)
	}
}
