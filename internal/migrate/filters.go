package migrate

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ingress-nginx's CORS defaults, used for the cors-* annotations not set.
const (
	corsDefaultMethods = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
	corsDefaultHeaders = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
	corsDefaultMaxAge  = 1728000
)

var (
	corsOriginRE  = regexp.MustCompile(`(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$)`)
	headerNameRE  = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$")
	validMethods  = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true, "*": true}
	redirectCodes = map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true}
)

// finishCORS builds the CORS filter from enable-cors and the cors-*
// annotations, with ingress-nginx's defaults for those not set.
func (c *ingressConfig) finishCORS(a map[string]string, rep *ObjectReport) {
	keys := []string{"cors-allow-origin", "cors-allow-methods", "cors-allow-headers", "cors-expose-headers", "cors-allow-credentials", "cors-max-age"}
	enable, set := a[nginxPrefix+"enable-cors"]
	if strings.TrimSpace(enable) != "true" {
		if set {
			rep.annotation(nginxPrefix+"enable-cors", Ignored, "CORS is not enabled (value %q)", enable)
		}
		for _, k := range keys {
			if _, ok := a[nginxPrefix+k]; ok {
				rep.annotation(nginxPrefix+k, Ignored, "enable-cors is not \"true\", so ingress-nginx ignores it too")
			}
		}
		return
	}
	get := func(k, def string) string {
		if v, ok := a[nginxPrefix+k]; ok {
			return strings.TrimSpace(v)
		}
		return def
	}
	f := &gwv1.HTTPCORSFilter{}
	var dropped []string
	for _, o := range splitList(get("cors-allow-origin", "*")) {
		if corsOriginRE.MatchString(o) {
			f.AllowOrigins = append(f.AllowOrigins, gwv1.CORSOrigin(o))
		} else {
			dropped = append(dropped, "origin "+o)
		}
	}
	for _, m := range splitList(get("cors-allow-methods", corsDefaultMethods)) {
		if validMethods[strings.ToUpper(m)] {
			f.AllowMethods = append(f.AllowMethods, gwv1.HTTPMethodWithWildcard(strings.ToUpper(m)))
		} else {
			dropped = append(dropped, "method "+m)
		}
	}
	f.AllowHeaders, dropped = headerNames(get("cors-allow-headers", corsDefaultHeaders), dropped)
	f.ExposeHeaders, dropped = headerNames(get("cors-expose-headers", ""), dropped)
	cred, err := strconv.ParseBool(get("cors-allow-credentials", "true"))
	if err != nil {
		dropped = append(dropped, "allow-credentials "+get("cors-allow-credentials", ""))
		cred = true
	}
	f.AllowCredentials = &cred
	age, err := strconv.ParseInt(get("cors-max-age", strconv.Itoa(corsDefaultMaxAge)), 10, 32)
	if err != nil || age < 0 {
		dropped = append(dropped, "max-age "+get("cors-max-age", ""))
		age = corsDefaultMaxAge
	}
	f.MaxAge = int32(age)
	c.cors = f
	outcome, detail := Translated, "HTTPRoute CORS filter (ingress-nginx defaults for the cors-* annotations not set)"
	if len(dropped) > 0 {
		outcome, detail = Partial, "HTTPRoute CORS filter without values Gateway API does not accept: "+strings.Join(dropped, ", ")
	}
	rep.annotation(nginxPrefix+"enable-cors", outcome, "%s", detail)
	for _, k := range keys {
		if _, ok := a[nginxPrefix+k]; ok {
			rep.annotation(nginxPrefix+k, outcome, "part of the CORS filter")
		}
	}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func headerNames(v string, dropped []string) ([]gwv1.HTTPHeaderName, []string) {
	var out []gwv1.HTTPHeaderName
	for _, h := range splitList(v) {
		if headerNameRE.MatchString(h) {
			out = append(out, gwv1.HTTPHeaderName(h))
		} else {
			dropped = append(dropped, "header "+h)
		}
	}
	return out, dropped
}

// finishRedirect reads permanent-redirect / temporal-redirect and their
// codes: every path of the Ingress answers with the redirect.
func (c *ingressConfig) finishRedirect(a map[string]string, rep *ObjectReport) {
	kinds := []struct {
		key  string
		code int
	}{{"permanent-redirect", 301}, {"temporal-redirect", 302}}
	for _, k := range kinds {
		target, ok := a[nginxPrefix+k.key]
		codeKey := nginxPrefix + k.key + "-code"
		codeVal, codeSet := a[codeKey]
		if !ok {
			if codeSet {
				rep.annotation(codeKey, Ignored, "%s is not set", k.key)
			}
			continue
		}
		name := nginxPrefix + k.key
		if c.redirect != nil {
			rep.annotation(name, Ignored, "permanent-redirect takes precedence, as in ingress-nginx")
			if codeSet {
				rep.annotation(codeKey, Ignored, "permanent-redirect takes precedence")
			}
			continue
		}
		code := k.code
		if codeSet {
			n, err := strconv.Atoi(strings.TrimSpace(codeVal))
			if err != nil || !redirectCodes[n] {
				rep.annotation(codeKey, NotTranslated, "%q is not one of the codes Gateway API allows (301, 302, 303, 307, 308); using %d", codeVal, k.code)
			} else {
				code = n
				rep.annotation(codeKey, Translated, "RequestRedirect statusCode %d", n)
			}
		}
		f, err := redirectTo(strings.TrimSpace(target), code)
		if err != "" {
			rep.annotation(name, NotTranslated, "%s", err)
			continue
		}
		c.redirect = f
		rep.annotation(name, Translated, "every rule answers with a RequestRedirect (%d) to %s", code, target)
	}
}

// redirectTo turns an absolute URL into a RequestRedirect filter.
func redirectTo(target string, code int) (*gwv1.HTTPRequestRedirectFilter, string) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, "value " + strconv.Quote(target) + " is not an absolute http(s) URL"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, "a redirect URL with a query or fragment cannot be expressed as a Gateway API RequestRedirect"
	}
	scheme := u.Scheme
	host := gwv1.PreciseHostname(u.Hostname())
	path := u.Path
	if path == "" {
		path = "/"
	}
	f := &gwv1.HTTPRequestRedirectFilter{Scheme: &scheme, Hostname: &host, StatusCode: &code,
		Path: &gwv1.HTTPPathModifier{Type: gwv1.FullPathHTTPPathModifier, ReplaceFullPath: &path}}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			return nil, "port " + p + " is not valid"
		}
		port := gwv1.PortNumber(n)
		f.Port = &port
	}
	return f, ""
}
