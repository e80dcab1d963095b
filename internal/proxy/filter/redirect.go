package filter

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"gatehouse.dev/gatehouse/internal/ir"
)

// redirect is the RequestRedirect filter.
type redirect struct {
	scheme   string
	hostname string
	port     int32 // 0: derive per the Gateway API rules
	path     *pathModifier
	status   int
}

func compileRedirect(rd *ir.Redirect) (*redirect, error) {
	switch rd.Scheme {
	case "", "http", "https":
	default:
		return nil, fmt.Errorf("scheme %q is not supported (want http or https)", rd.Scheme)
	}
	status := rd.StatusCode
	switch status {
	case 0:
		status = http.StatusFound
	case 301, 302, 303, 307, 308:
	default:
		return nil, fmt.Errorf("statusCode %d is not supported (want 301, 302, 303, 307 or 308)", rd.StatusCode)
	}
	out := &redirect{scheme: rd.Scheme, hostname: rd.Hostname, status: status}
	if rd.Port != nil {
		if *rd.Port < 1 || *rd.Port > 65535 {
			return nil, fmt.Errorf("port %d is outside 1..65535", *rd.Port)
		}
		out.port = *rd.Port
	}
	pm, err := compilePathModifier(rd.Path)
	if err != nil {
		return nil, err
	}
	out.path = pm
	return out, nil
}

func (f *redirect) request(w http.ResponseWriter, r *http.Request, m MatchInfo) bool {
	w.Header().Set("Location", f.location(r, m))
	w.WriteHeader(f.status)
	return true
}

// location builds the Location header. The port follows the
// HTTPRequestRedirectFilter rules: an explicit port wins; otherwise a
// configured scheme brings its well-known port, and without one the listener
// port is kept. The port is left out when it is the well-known port of the
// resulting scheme (80 for http, 443 for https).
func (f *redirect) location(r *http.Request, m MatchInfo) string {
	scheme := f.scheme
	port := f.port
	if port == 0 && scheme != "" {
		port = wellKnownPort(scheme)
	}
	if scheme == "" {
		scheme = requestScheme(r, m)
	}
	if port == 0 {
		port = m.ListenerPort
	}
	host := f.hostname
	if host == "" {
		host = hostWithoutPort(r.Host)
	}
	if port != 0 && port != wellKnownPort(scheme) {
		host = net.JoinHostPort(host, strconv.Itoa(int(port)))
	} else if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	u := url.URL{Scheme: scheme, Host: host, Path: requestPath(r), RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if f.path != nil {
		u.Path = f.path.apply(requestPath(r), m.MatchedPrefix)
		u.RawPath = ""
	}
	return u.String()
}

func wellKnownPort(scheme string) int32 {
	switch scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

func requestScheme(r *http.Request, m MatchInfo) string {
	if m.Scheme != "" {
		return m.Scheme
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// hostWithoutPort strips a port from a Host header value, keeping IPv6
// literals intact (without brackets).
func hostWithoutPort(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}
