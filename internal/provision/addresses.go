package provision

import (
	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayAddresses returns the addresses to report in the Gateway's
// status.addresses, read from its provisioned Service: the load balancer's
// ingress IPs and hostnames, or for a ClusterIP Service its cluster IPs.
// It returns nil while a load balancer is still being provisioned, and for
// NodePort Services (whose node addresses the Service does not carry).
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
	case corev1.ServiceTypeClusterIP, "":
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
