package migrate

import "fmt"

// Options shape the generated objects. The zero value is not useful: start
// from DefaultOptions.
type Options struct {
	// GatewayName and GatewayNamespace name the shared Gateway.
	GatewayName      string
	GatewayNamespace string
	// GatewayClass is the Gateway's gatewayClassName.
	GatewayClass string
	// ListenerSetName names the ListenerSet generated in each app namespace.
	ListenerSetName string
	// AllowAllNamespaces opens the Gateway to ListenerSets from every
	// namespace (allowedListeners from All) instead of a Selector listing
	// the migrated namespaces.
	AllowAllNamespaces bool
	// HTTPPort and HTTPSPort are the listener ports (80 and 443).
	HTTPPort  int32
	HTTPSPort int32
	// IngressClass, when set, migrates only Ingresses of that class
	// (spec.ingressClassName or the kubernetes.io/ingress.class annotation);
	// the others are reported as skipped.
	IngressClass string
}

// DefaultOptions returns the defaults the command starts from.
func DefaultOptions() Options {
	return Options{GatewayName: "shared", GatewayNamespace: "gatehouse-system", GatewayClass: "gatehouse",
		ListenerSetName: "ingress", HTTPPort: 80, HTTPSPort: 443}
}

// Validate reports options that would produce invalid objects.
func (o Options) Validate() error {
	for _, n := range []struct{ flag, v string }{{"gateway name", o.GatewayName}, {"gateway namespace", o.GatewayNamespace},
		{"gateway class", o.GatewayClass}, {"listenerset name", o.ListenerSetName}} {
		if !isDNSLabel(n.v) {
			return fmt.Errorf("%s %q: use a DNS label (lower-case letters, digits and '-', at most 63 characters)", n.flag, n.v)
		}
	}
	for _, p := range []struct {
		flag string
		v    int32
	}{{"http port", o.HTTPPort}, {"https port", o.HTTPSPort}} {
		if p.v < 1 || p.v > 65535 {
			return fmt.Errorf("%s %d: use a port between 1 and 65535", p.flag, p.v)
		}
	}
	if o.HTTPPort == o.HTTPSPort {
		return fmt.Errorf("http port and https port are both %d: use two different ports", o.HTTPPort)
	}
	return nil
}
