package provision

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayAddresses returns the addresses to report in the Gateway's
// status.addresses, read from its provisioned Service: the load balancer's
// ingress IPs and hostnames, or for a ClusterIP Service its cluster IPs.
// A NodePort Service reports its cluster IPs (its node addresses are not on
// the Service). It returns nil while a load balancer is still being
// provisioned.
func GatewayAddresses(svc *corev1.Service) []gwv1.GatewayStatusAddress {
	if svc == nil {
		return nil
	}
	var out []gwv1.GatewayStatusAddress
	switch svc.Spec.Type {
	case corev1.ServiceTypeLoadBalancer:
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				out = append(out, address(gwv1.IPAddressType, in.IP))
			}
			if in.Hostname != "" {
				out = append(out, address(gwv1.HostnameAddressType, in.Hostname))
			}
		}
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, "":
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 && svc.Spec.ClusterIP != "" {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, ip := range ips {
			if ip != corev1.ClusterIPNone {
				out = append(out, address(gwv1.IPAddressType, ip))
			}
		}
	}
	return out
}

func address(t gwv1.AddressType, value string) gwv1.GatewayStatusAddress {
	return gwv1.GatewayStatusAddress{Type: &t, Value: value}
}

// LoadBalancerIPsAnnotation on a proxy Service lists, comma-separated, the
// IPs its Gateway's spec.addresses asks for. A load balancer that supports
// several requested IPs reads it (the local cluster harness's does); with
// exactly one IP, spec.loadBalancerIP carries it too, which most cloud
// load balancers and MetalLB honour.
const LoadBalancerIPsAnnotation = "gatehouse.dev/load-balancer-ips"

// StaticAddresses validates gw's spec.addresses and returns the IPs they
// name, normalised. Only IPAddress entries are supported; one without a
// value asks for any address, which is what a Gateway gets anyway.
func StaticAddresses(gw *gwv1.Gateway) ([]string, error) {
	var ips []string
	for i, a := range gw.Spec.Addresses {
		if a.Type != nil && *a.Type != gwv1.IPAddressType {
			return nil, fmt.Errorf("spec.addresses[%d]: type %s is not supported; use IPAddress", i, *a.Type)
		}
		if a.Value == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("spec.addresses[%d]: %q is not an IP address", i, a.Value)
		}
		ips = append(ips, ip.String())
	}
	return ips, nil
}

// requestAddresses asks svc's load balancer for gw's static addresses.
func requestAddresses(svc *corev1.Service, gw *gwv1.Gateway) {
	ips, err := StaticAddresses(gw)
	if err != nil || len(ips) == 0 || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	if svc.Annotations == nil {
		svc.Annotations = map[string]string{}
	}
	svc.Annotations[LoadBalancerIPsAnnotation] = strings.Join(ips, ",")
	if len(ips) == 1 {
		svc.Spec.LoadBalancerIP = ips[0]
	}
}
