package podsim

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// readinessCheck returns one probe attempt for the container, or nil when
// the container counts as ready as soon as it runs. Probes dial the pod IP
// from the host, which reaches every pod over the bridge. Exec and gRPC
// probes are not run; such containers are ready once started.
func readinessCheck(c corev1.Container, podIP string) func(context.Context) bool {
	if pr := c.ReadinessProbe; pr != nil {
		switch {
		case pr.HTTPGet != nil:
			return httpCheck(pr.HTTPGet, c, podIP)
		case pr.TCPSocket != nil:
			port := resolvePort(pr.TCPSocket.Port, c)
			return func(ctx context.Context) bool { return tcpCheck(ctx, podIP, port) }
		default:
			return nil
		}
	}
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			port := int(p.ContainerPort)
			return func(ctx context.Context) bool { return tcpCheck(ctx, podIP, port) }
		}
	}
	return nil
}

func resolvePort(p intstr.IntOrString, c corev1.Container) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	n, _ := strconv.Atoi(p.StrVal)
	return n
}

func tcpCheck(ctx context.Context, ip string, port int) bool {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

var probeClient = &http.Client{
	Timeout: 2 * time.Second,
	Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // kubelet probes skip verification too
		DisableKeepAlives: true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func httpCheck(g *corev1.HTTPGetAction, c corev1.Container, podIP string) func(context.Context) bool {
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	host := podIP
	if g.Host != "" {
		host = g.Host
	}
	path := g.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(resolvePort(g.Port, c))) + path
	return func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		for _, h := range g.HTTPHeaders {
			if h.Name == "Host" {
				req.Host = h.Value
			} else {
				req.Header.Add(h.Name, h.Value)
			}
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	}
}
