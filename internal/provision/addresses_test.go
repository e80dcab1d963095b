package provision

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
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
		{"NodePort", &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10"}}, []string{"IPAddress=10.96.0.10"}},
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

// TestDesiredStaticAddresses checks that spec.addresses reach the proxy
// Service's load balancer: every IP in the annotation, a single one in
// spec.loadBalancerIP too, nothing for a ClusterIP Service or without IPs.
func TestDesiredStaticAddresses(t *testing.T) {
	ipType := gwv1.IPAddressType
	withAddresses := func(values ...string) *gwv1.Gateway {
		gw := gateway("static", 80)
		for _, v := range values {
			gw.Spec.Addresses = append(gw.Spec.Addresses, gwv1.GatewaySpecAddress{Type: &ipType, Value: v})
		}
		return gw
	}
	clusterIP := corev1.ServiceTypeClusterIP
	tests := []struct {
		name       string
		gw         *gwv1.Gateway
		params     *v1alpha1.GatewayParameters
		annotation string
		lbIP       string
	}{
		{"none", withAddresses(), nil, "", ""},
		{"any address", withAddresses(""), nil, "", ""},
		{"one", withAddresses("10.244.0.200"), nil, "10.244.0.200", "10.244.0.200"},
		{"two, normalised", withAddresses("192.0.2.1", "2001:DB8::1"), nil, "192.0.2.1,2001:db8::1", ""},
		{"ClusterIP Service", withAddresses("10.244.0.200"),
			&v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{Service: &v1alpha1.ServiceParameters{Type: &clusterIP}}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := Desired(tt.gw, tt.params, testOptions).Service
			if got := svc.Annotations[LoadBalancerIPsAnnotation]; got != tt.annotation {
				t.Errorf("annotation = %q, want %q", got, tt.annotation)
			}
			if svc.Spec.LoadBalancerIP != tt.lbIP {
				t.Errorf("loadBalancerIP = %q, want %q", svc.Spec.LoadBalancerIP, tt.lbIP)
			}
		})
	}
	if _, err := StaticAddresses(withAddresses("10.0.0.1", "fe80::1%eth0")); err == nil || !strings.Contains(err.Error(), "spec.addresses[1]") {
		t.Errorf("a zoned address: err = %v, want one naming spec.addresses[1]", err)
	}
}
