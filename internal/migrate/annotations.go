package migrate

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// nginxPrefix is the prefix of every ingress-nginx annotation.
const nginxPrefix = "nginx.ingress.kubernetes.io/"

// ingressConfig is what an Ingress's annotations ask for, parsed once and
// applied to every rule the Ingress produces.
type ingressConfig struct {
	rewriteTarget  string
	useRegex       bool
	sslRedirect    *bool
	forceSSL       bool
	timeouts       *gwv1.HTTPRouteTimeouts
	cors           *gwv1.HTTPCORSFilter
	redirect       *gwv1.HTTPRequestRedirectFilter // permanent/temporal redirect: replaces the backends
	appRoot        string
	allowCIDRs     []string
	denyCIDRs      []string
	upstreamVhost  string
	forwardedPref  string
	backendProto   string
	canary         *canarySpec
	certManager    map[string]string
	rewriteCapture bool // rewrite-target uses capture groups ($1...)
	// timeoutParts are the nginx timeouts (seconds) behind timeouts.
	timeoutParts map[string]uint64
}

// canarySpec is a canary Ingress's selection of requests.
type canarySpec struct {
	weight        int32 // -1: not set
	weightTotal   int32
	header        string
	headerValue   string
	headerPattern string
	cookie        string
}

// notTranslated lists the ingress-nginx annotations Gatehouse has no
// equivalent for, with what to do instead.
var notTranslated = map[string]string{
	"proxy-body-size":           "no request-body size limit per route in Gateway API or Gatehouse yet; bodies are streamed",
	"client-body-buffer-size":   "Gatehouse streams request bodies; there is no buffer to size",
	"proxy-buffering":           "Gatehouse streams responses; there is no buffering to switch",
	"proxy-buffer-size":         "Gatehouse streams responses; there is no buffer to size",
	"proxy-request-buffering":   "Gatehouse streams request bodies",
	"proxy-max-temp-file-size":  "Gatehouse does not spool responses to disk",
	"auth-url":                  "external authentication has no Gatehouse equivalent yet; a TrafficPolicy jwt section covers bearer tokens",
	"auth-signin":               "external authentication has no Gatehouse equivalent yet",
	"auth-response-headers":     "external authentication has no Gatehouse equivalent yet",
	"auth-type":                 "basic/digest authentication has no Gatehouse equivalent; consider a TrafficPolicy with jwt",
	"auth-secret":               "basic/digest authentication has no Gatehouse equivalent",
	"auth-realm":                "basic/digest authentication has no Gatehouse equivalent",
	"auth-tls-secret":           "client certificates are verified per Gateway port (Gateway spec.tls.frontend), which the platform team sets; not per host",
	"auth-tls-verify-client":    "client certificates are verified per Gateway port (Gateway spec.tls.frontend), which the platform team sets; not per host",
	"auth-tls-verify-depth":     "client certificates are verified per Gateway port (Gateway spec.tls.frontend), which the platform team sets; not per host",
	"limit-rps":                 "rate limiting has no Gatehouse equivalent yet",
	"limit-rpm":                 "rate limiting has no Gatehouse equivalent yet",
	"limit-connections":         "connection limits have no Gatehouse equivalent yet",
	"limit-burst-multiplier":    "rate limiting has no Gatehouse equivalent yet",
	"affinity":                  "session affinity (sticky cookies) is not supported yet",
	"affinity-mode":             "session affinity (sticky cookies) is not supported yet",
	"session-cookie-name":       "session affinity (sticky cookies) is not supported yet",
	"session-cookie-max-age":    "session affinity (sticky cookies) is not supported yet",
	"session-cookie-path":       "session affinity (sticky cookies) is not supported yet",
	"ssl-passthrough":           "TLS passthrough needs a TLS listener and a TLSRoute; write them by hand",
	"upstream-hash-by":          "consistent hashing is not supported; Gatehouse balances by outstanding requests",
	"load-balance":              "Gatehouse always balances by outstanding requests (power of two choices)",
	"custom-http-errors":        "custom error pages have no Gateway API equivalent",
	"default-backend":           "a per-Ingress error backend has no Gateway API equivalent; spec.defaultBackend is translated",
	"server-alias":              "add the alias to the route's hostnames and a listener by hand",
	"from-to-www-redirect":      "write a second HTTPRoute with a RequestRedirect for the www host by hand",
	"proxy-next-upstream":       "retries are not translated (Gateway API HTTPRoute retry is not supported yet)",
	"proxy-next-upstream-tries": "retries are not translated (Gateway API HTTPRoute retry is not supported yet)",
	"proxy-ssl-secret":          "the client certificate for backends is set per Gateway (spec.tls.backend.clientCertificateRef) by the platform team",
	"proxy-ssl-verify":          "upstream TLS is verified whenever a BackendTLSPolicy applies",
	"proxy-ssl-name":            "set spec.validation.hostname of the BackendTLSPolicy instead",
	"service-upstream":          "Gatehouse always balances over the Service's endpoints",
	"mirror-target":             "write an HTTPRoute RequestMirror filter to a Service by hand",
	"custom-headers":            "the headers live in a ConfigMap this tool does not read; write a ResponseHeaderModifier filter",
	"proxy-set-headers":         "the headers live in a ConfigMap this tool does not read; write a RequestHeaderModifier filter",
	"enable-access-log":         "access logs are configured per Gateway or with a TrafficPolicy accessLog section",
	"enable-opentelemetry":      "tracing is configured on the gateway process (see docs/operations.md)",
	"enable-modsecurity":        "no web application firewall in Gatehouse",
	"satisfy":                   "with several authorization methods, all TrafficPolicy rules apply (like satisfy all)",
	"preserve-trailing-slash":   "redirects keep the path as Gateway API defines",
}

// unsafeAnnotations hold raw nginx configuration: never translated.
var unsafeAnnotations = map[string]bool{
	"configuration-snippet": true, "server-snippet": true, "auth-snippet": true,
	"stream-snippet": true, "modsecurity-snippet": true,
}

// parseAnnotations reads an Ingress's annotations into an ingressConfig and
// records an outcome for every one of them. Outcomes of annotations whose
// effect depends on the paths (rewrite-target) are refined later.
func parseAnnotations(ing *networkingv1.Ingress, rep *ObjectReport) *ingressConfig {
	c := &ingressConfig{certManager: map[string]string{}}
	names := make([]string, 0, len(ing.Annotations))
	for k := range ing.Annotations {
		names = append(names, k)
	}
	sort.Strings(names)
	a := ing.Annotations
	canary := a[nginxPrefix+"canary"] == "true"
	for _, name := range names {
		v := strings.TrimSpace(a[name])
		short, isNginx := strings.CutPrefix(name, nginxPrefix)
		switch {
		case !isNginx:
			c.otherAnnotation(name, v, rep)
		case !canary && strings.HasPrefix(short, "canary") && short != "canary":
			rep.annotation(name, Ignored, "canary is not \"true\" on this Ingress, so ingress-nginx ignores it too")
		case canary && !strings.HasPrefix(short, "canary"):
			rep.annotation(name, Ignored, "a canary Ingress takes the behaviour of its main Ingress (as in ingress-nginx); only canary-* annotations count")
		case unsafeAnnotations[short]:
			rep.annotation(name, Unsafe, "raw nginx configuration is never translated: express it with HTTPRoute filters or a TrafficPolicy and review it by hand")
		case notTranslated[short] != "":
			rep.annotation(name, NotTranslated, "%s", notTranslated[short])
		default:
			if !c.nginxAnnotation(short, v, rep) {
				rep.annotation(name, NotTranslated, "not an ingress-nginx annotation this tool knows; check what it did and migrate it by hand")
			}
		}
	}
	c.finishAnnotations(a, rep)
	if c.canary != nil && c.canary.weight < 0 && c.canary.header == "" && c.canary.cookie == "" {
		rep.warn("metadata.annotations", "canary Ingress selects no traffic (no canary-weight, canary-by-header or canary-by-cookie)")
	}
	return c
}

// otherAnnotation handles annotations outside ingress-nginx's prefix.
func (c *ingressConfig) otherAnnotation(name, v string, rep *ObjectReport) {
	switch {
	case strings.HasPrefix(name, "cert-manager.io/"):
		c.certManager[name] = v
		rep.annotation(name, Translated, "moved to the ListenerSet holding this Ingress's TLS hosts, where cert-manager (v1.20+) issues certificates for its HTTPS listeners")
	case name == "kubernetes.io/tls-acme":
		c.certManager[name] = v
		rep.annotation(name, Partial, "moved to the ListenerSet; cert-manager must have a default issuer configured for it to take effect")
	case strings.HasPrefix(name, "acme.cert-manager.io/http01"):
		rep.annotation(name, NotTranslated, "HTTP-01 challenges on Gateway API are configured on the Issuer (solver gatewayHTTPRoute with parentRefs to the shared Gateway), not per object")
	case name == "kubernetes.io/ingress.class":
		rep.annotation(name, Ignored, "the Ingress class: used only to select which Ingresses to migrate")
	case name == "kubectl.kubernetes.io/last-applied-configuration":
		rep.annotation(name, Ignored, "kubectl bookkeeping")
	default:
		rep.annotation(name, Ignored, "not an ingress-nginx annotation: not carried over")
	}
}

// nginxAnnotation parses one known ingress-nginx annotation; false means
// the annotation is unknown.
func (c *ingressConfig) nginxAnnotation(short, v string, rep *ObjectReport) bool {
	name := nginxPrefix + short
	switch short {
	case "rewrite-target":
		c.rewriteTarget = v
		c.rewriteCapture = strings.Contains(v, "$")
		// The outcome depends on the paths: recorded by routeRules.
	case "use-regex":
		c.useRegex = v == "true"
		rep.annotation(name, Translated, "paths with regular-expression characters become case-insensitive RegularExpression matches anchored at the start, as in ingress-nginx")
	case "ssl-redirect", "force-ssl-redirect":
		c.sslAnnotation(short, v, rep)
	case "backend-protocol":
		c.backendProto = strings.ToUpper(v)
		// Outcome recorded with the backends (it depends on the Services).
	case "proxy-connect-timeout", "proxy-read-timeout", "proxy-send-timeout":
		c.timeout(short, v, rep)
	case "enable-cors", "cors-allow-origin", "cors-allow-methods", "cors-allow-headers", "cors-expose-headers",
		"cors-allow-credentials", "cors-max-age":
		// Read together in finishCORS.
	case "canary", "canary-weight", "canary-weight-total", "canary-by-header", "canary-by-header-value",
		"canary-by-header-pattern", "canary-by-cookie":
		c.canaryAnnotation(short, v, rep)
	case "permanent-redirect", "temporal-redirect", "permanent-redirect-code", "temporal-redirect-code":
		// Read together in finishRedirect.
	case "app-root":
		if !strings.HasPrefix(v, "/") {
			rep.annotation(name, NotTranslated, "value %q must be a path starting with /", v)
			return true
		}
		c.appRoot = v
		rep.annotation(name, Translated, "rule with an Exact / match redirecting (302) to %s", v)
	case "whitelist-source-range", "allowlist-source-range", "denylist-source-range":
		cidrs, err := parseCIDRs(v)
		if err != nil {
			rep.annotation(name, NotTranslated, "%v (ingress-nginx ignores the annotation too)", err)
			return true
		}
		if short == "denylist-source-range" {
			c.denyCIDRs = cidrs
		} else {
			c.allowCIDRs = cidrs
		}
		rep.annotation(name, Translated, "TrafficPolicy authorization rule on the client address (source.address); behind a load balancer make sure it is the real client's")
	case "upstream-vhost":
		c.upstreamVhost = v
		rep.annotation(name, Translated, "URLRewrite hostname %s", v)
	case "x-forwarded-prefix":
		c.forwardedPref = v
		rep.annotation(name, Translated, "RequestHeaderModifier setting X-Forwarded-Prefix")
	default:
		return false
	}
	return true
}

// sslAnnotation reads ssl-redirect and force-ssl-redirect.
func (c *ingressConfig) sslAnnotation(short, v string, rep *ObjectReport) {
	name := nginxPrefix + short
	b, err := strconv.ParseBool(v)
	if err != nil {
		rep.annotation(name, NotTranslated, "value %q is not true or false", v)
		return
	}
	if short == "ssl-redirect" {
		c.sslRedirect = &b
	} else {
		c.forceSSL = b
	}
	switch {
	case b && short == "force-ssl-redirect":
		rep.annotation(name, Translated, "a route on the HTTP listener redirects to https (308); on hosts without TLS on the Gateway only requests with X-Forwarded-Proto: http")
	case b:
		rep.annotation(name, Translated, "a route on the HTTP listener redirects hosts with TLS to https (308)")
	default:
		rep.annotation(name, Translated, "no redirect: the route serves both the HTTP and the HTTPS listener")
	}
}

// timeout folds one nginx proxy timeout into the route's backendRequest
// timeout: connect + the larger of read and send, each defaulting to
// ingress-nginx's default (5s, 60s, 60s) when only some are set.
func (c *ingressConfig) timeout(short, v string, rep *ObjectReport) {
	name := nginxPrefix + short
	secs, err := strconv.ParseUint(strings.TrimSuffix(v, "s"), 10, 31)
	if err != nil || secs == 0 {
		rep.annotation(name, NotTranslated, "value %q is not a positive number of seconds", v)
		return
	}
	rep.annotation(name, Partial, "folded into the HTTPRoute rule's timeouts.backendRequest (connect + max(read, send)): nginx limits each connect, read and write, Gateway API the whole backend exchange, so a response streaming longer than that is cut")
	cur := map[string]uint64{"proxy-connect-timeout": 5, "proxy-read-timeout": 60, "proxy-send-timeout": 60}
	if c.timeouts != nil {
		cur = c.timeoutParts
	}
	cur[short] = secs
	c.timeoutParts = cur
	total := cur["proxy-connect-timeout"] + max(cur["proxy-read-timeout"], cur["proxy-send-timeout"])
	d := gwv1.Duration(strconv.FormatUint(total, 10) + "s")
	c.timeouts = &gwv1.HTTPRouteTimeouts{BackendRequest: &d}
}

func (c *ingressConfig) canaryAnnotation(short, v string, rep *ObjectReport) {
	name := nginxPrefix + short
	if c.canary == nil {
		c.canary = &canarySpec{weight: -1, weightTotal: 100}
	}
	switch short {
	case "canary":
		if v != "true" {
			c.canary = nil
			rep.annotation(name, Ignored, "not a canary (value %q)", v)
			return
		}
		rep.annotation(name, Translated, "merged into the main Ingress's HTTPRoute rule for the same host and path")
		return
	case "canary-weight", "canary-weight-total":
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			rep.annotation(name, NotTranslated, "value %q is not a non-negative integer", v)
			return
		}
		if short == "canary-weight" {
			c.canary.weight = int32(n)
		} else if n > 0 {
			c.canary.weightTotal = int32(n)
		}
		rep.annotation(name, Translated, "weighted backendRefs on the main rule")
		return
	case "canary-by-header":
		c.canary.header = v
	case "canary-by-header-value":
		c.canary.headerValue = v
	case "canary-by-header-pattern":
		c.canary.headerPattern = v
	case "canary-by-cookie":
		c.canary.cookie = v
		rep.annotation(name, Partial, "rules matching the Cookie header with a regular expression for %s=always and %s=never", v, v)
		return
	}
	rep.annotation(name, Translated, "rules with header matches sending matching requests to the canary")
}

// finishAnnotations reads the annotations that only make sense together
// (CORS, redirects) once every annotation has been seen.
func (c *ingressConfig) finishAnnotations(a map[string]string, rep *ObjectReport) {
	if c.canary != nil {
		return
	}
	c.finishCORS(a, rep)
	c.finishRedirect(a, rep)
}

// parseCIDRs reads a comma-separated list of CIDRs or addresses; single
// addresses become /32 (or /128) prefixes.
func parseCIDRs(v string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked().String())
			continue
		}
		addr, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", part)
		}
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()).String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address ranges")
	}
	return out, nil
}
