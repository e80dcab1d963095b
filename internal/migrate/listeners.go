package migrate

import (
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// maxListenersPerSet is the ListenerSet CRD's limit on listeners.
const maxListenersPerSet = 64

// buildListenerSets gives each namespace's hostnames an HTTP listener and,
// for hosts with a TLS Secret, an HTTPS listener. Hosts whose TLS came from
// Ingresses with the same cert-manager annotations share ListenerSets that
// carry those annotations (so cert-manager never takes over a Secret it did
// not manage before); each ListenerSet holds at most 64 listeners. The
// first is named Options.ListenerSetName, the others get a suffix.
func (m *migration) buildListenerSets() {
	nss := make([]string, 0, len(m.hosts))
	for ns := range m.hosts {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		hosts := m.hosts[ns]
		groups := map[string][]string{} // cert-manager key -> hosts
		for h, hl := range hosts {
			k := annotationKey(hl.certManager)
			groups[k] = append(groups[k], h)
		}
		keys := make([]string, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		sort.Strings(keys) // "" (no cert-manager) first
		out := m.nsResult(ns)
		setNames := uniqueNames{}
		for _, k := range keys {
			names := groups[k]
			sort.Strings(names)
			certManager := hosts[names[0]].certManager
			base := m.o.ListenerSetName
			if len(setNames) > 0 {
				base += "-" + issuerName(certManager)
			}
			var ls *gwv1.ListenerSet
			var sections uniqueNames
			for _, h := range names {
				hl := hosts[h]
				need := 1
				if hl.secret != "" {
					need = 2
				}
				if ls == nil || len(ls.Spec.Listeners)+need > maxListenersPerSet {
					ls = m.listenerSet(ns, setNames.take(base), certManager)
					out.ListenerSets = append(out.ListenerSets, ls)
					sections = uniqueNames{}
				}
				m.addListeners(ls, sections, h, hl)
			}
		}
	}
}

// addListeners adds a host's HTTP (and HTTPS) listener to a ListenerSet.
func (m *migration) addListeners(ls *gwv1.ListenerSet, sections uniqueNames, h string, hl *hostListeners) {
	hl.listenerSet = ls.Name
	hostname := gwv1.Hostname(h)
	hl.http = gwv1.SectionName(sections.take("http-" + hostPart(h)))
	ls.Spec.Listeners = append(ls.Spec.Listeners, gwv1.ListenerEntry{Name: hl.http, Hostname: &hostname,
		Port: m.o.HTTPPort, Protocol: gwv1.HTTPProtocolType})
	if hl.secret != "" {
		hl.https = gwv1.SectionName(sections.take("https-" + hostPart(h)))
		ls.Spec.Listeners = append(ls.Spec.Listeners, gwv1.ListenerEntry{Name: hl.https, Hostname: &hostname,
			Port: m.o.HTTPSPort, Protocol: gwv1.HTTPSProtocolType,
			TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: gwv1.ObjectName(hl.secret)}}}})
	}
}

// annotationKey is a canonical string for a set of annotations.
func annotationKey(a map[string]string) string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + a[k] + "\n")
	}
	return b.String()
}

// issuerName names a ListenerSet after its cert-manager issuer.
func issuerName(a map[string]string) string {
	for _, k := range []string{"cert-manager.io/cluster-issuer", "cert-manager.io/issuer"} {
		if v := a[k]; v != "" {
			return v
		}
	}
	return "tls"
}

func (m *migration) listenerSet(ns, name string, certManager map[string]string) *gwv1.ListenerSet {
	gwNS := gwv1.Namespace(m.o.GatewayNamespace)
	ls := &gwv1.ListenerSet{TypeMeta: typeMeta("ListenerSet"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       gwv1.ListenerSetSpec{ParentRef: gwv1.ParentGatewayReference{Name: gwv1.ObjectName(m.o.GatewayName), Namespace: &gwNS}}}
	if len(certManager) > 0 {
		ls.Annotations = map[string]string{}
		for k, v := range certManager {
			ls.Annotations[k] = v
		}
	}
	return ls
}

// gateway builds the platform team's shared Gateway: one catch-all HTTP
// listener of its own (the CRD requires one; Ingress rules without a host
// attach to it) and allowedListeners opened to the migrated namespaces.
func (m *migration) gateway() *gwv1.Gateway {
	var appNS []string
	for ns, r := range m.out {
		if len(r.ListenerSets) > 0 {
			appNS = append(appNS, ns)
		}
	}
	sort.Strings(appNS)
	from := gwv1.NamespacesFromSelector
	allowed := &gwv1.AllowedListeners{Namespaces: &gwv1.ListenerNamespaces{From: &from}}
	switch {
	case m.o.AllowAllNamespaces:
		from = gwv1.NamespacesFromAll
	case len(appNS) == 0:
		from = gwv1.NamespacesFromNone
	default:
		allowed.Namespaces.Selector = namespaceSelector(appNS)
	}
	var catchAll []string
	for ns := range m.catchAll {
		catchAll = append(catchAll, ns)
	}
	sort.Strings(catchAll)
	routesFrom := gwv1.NamespacesFromSame
	routeNS := &gwv1.RouteNamespaces{From: &routesFrom}
	if len(catchAll) > 0 {
		routesFrom = gwv1.NamespacesFromSelector
		routeNS.Selector = namespaceSelector(catchAll)
	}
	return &gwv1.Gateway{TypeMeta: typeMeta("Gateway"),
		ObjectMeta: metav1.ObjectMeta{Name: m.o.GatewayName, Namespace: m.o.GatewayNamespace},
		Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(m.o.GatewayClass), AllowedListeners: allowed,
			Listeners: []gwv1.Listener{{Name: defaultListener, Port: m.o.HTTPPort, Protocol: gwv1.HTTPProtocolType,
				AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: routeNS}}}}}
}

// namespaceSelector selects namespaces by name, with the label every
// namespace carries.
func namespaceSelector(names []string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: names}}}
}
