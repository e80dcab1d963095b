package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/testkit"
)

// lineServer listens on loopback (TLS when crtB64/keyB64 are set): it
// greets with "name sni\n" and echoes lines.
func lineServer(t *testing.T, name, crtB64, keyB64 string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var cfg *tls.Config
	if crtB64 != "" {
		crt, _ := base64.StdEncoding.DecodeString(crtB64)
		key, _ := base64.StdEncoding.DecodeString(keyB64)
		kp, err := tls.X509KeyPair(crt, key)
		if err != nil {
			t.Fatal(err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{kp}}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sni := "-"
				if cfg != nil {
					tc := tls.Server(c, cfg)
					if tc.Handshake() != nil {
						return
					}
					sni, c = tc.ConnectionState().ServerName, tc
				}
				fmt.Fprintf(c, "%s %s\n", name, sni)
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprint(c, "echo "+line)
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// dialLine connects to port (TLS with serverName and roots when tlsCfg is
// set) and returns the greeting and the open connection.
func dialLine(port int, tlsCfg *tls.Config) (string, net.Conn, *bufio.Reader, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d := &net.Dialer{Timeout: 2 * time.Second}
	var c net.Conn
	var err error
	if tlsCfg != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tlsCfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return "", nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		c.Close()
		return "", nil, nil, err
	}
	return strings.TrimSpace(line), c, r, nil
}

func l4Route(kind, name, listener, hostnames, backend string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: %s
metadata: {name: %s, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: %s}]
%s  rules: [{backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: %s}]}]
`, kind, name, listener, hostnames, backend)
}

func lineStatic(name string, port int) string {
	return fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: %s, namespace: default}
spec: {endpoints: ["127.0.0.1:%d"]}
`, name, port)
}

// TestL4RoutesEndToEnd runs TLS passthrough (two backends picked by SNI),
// TLS terminate and TCP through the standalone gateway, and changes the
// TCPRoute's backend while a connection is open.
func TestL4RoutesEndToEnd(t *testing.T) {
	backendCrt, backendKey := certPair(t, 1, "a.example.com", "b.example.com")
	gwCrt, gwKey := certPair(t, 2, "secure.example.org")
	tcpPort := testkit.FreePort(t)
	files := map[string]string{
		"gateway.yaml": gatewayWith(`  - {name: tls, port: %[1]d, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
  - {name: term, port: %[1]d, protocol: TLS, hostname: secure.example.org, tls: {certificateRefs: [{name: gw-cert}]}}
  - {name: tcp, port: ` + fmt.Sprint(tcpPort) + `, protocol: TCP}
`),
		"cert.yaml":     tlsSecret("gw-cert", gwCrt, gwKey),
		"backends.yaml": lineStatic("a", lineServer(t, "A", backendCrt, backendKey)) + "---\n" + lineStatic("b", lineServer(t, "B", backendCrt, backendKey)) + "---\n" + lineStatic("p1", lineServer(t, "P1", "", "")) + "---\n" + lineStatic("p2", lineServer(t, "P2", "", "")),
		"tls-a.yaml":    l4Route("TLSRoute", "a", "tls", "  hostnames: [a.example.com]\n", "a"),
		"tls-b.yaml":    l4Route("TLSRoute", "b", "tls", "  hostnames: [b.example.com]\n", "b"),
		"term.yaml":     l4Route("TLSRoute", "t", "term", "  hostnames: [secure.example.org]\n", "p1"),
		"tcp.yaml":      l4Route("TCPRoute", "tcp", "tcp", "", "p1"),
	}
	g := startGateway(t, files)

	for sni, want := range map[string]string{"a.example.com": "A a.example.com", "b.example.com": "B b.example.com"} {
		var got string
		eventually(t, "passthrough to "+sni, func() bool {
			line, c, _, err := dialLine(g.port, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
			if err != nil {
				return false
			}
			c.Close()
			got = line
			return true
		})
		if got != want {
			t.Errorf("SNI %s reached %q, want %q (the backend terminates TLS and sees the SNI)", sni, got, want)
		}
	}
	if line, c, _, err := dialLine(g.port, &tls.Config{ServerName: "c.example.com", InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Errorf("SNI without a route reached %q, want the connection closed", line)
	}

	crt, _ := base64.StdEncoding.DecodeString(gwCrt)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(crt)
	line, c, _, err := dialLine(g.port, &tls.Config{ServerName: "secure.example.org", RootCAs: roots})
	if err != nil || line != "P1 -" {
		t.Fatalf("terminate: %q, %v; want the gateway's certificate and the plaintext backend", line, err)
	}
	c.Close()

	var live net.Conn
	var liveR *bufio.Reader
	eventually(t, "TCP route", func() bool {
		line, c, r, err := dialLine(tcpPort, nil)
		if err != nil || line != "P1 -" {
			return false
		}
		live, liveR = c, r
		return true
	})
	defer live.Close()
	g.write("tcp.yaml", l4Route("TCPRoute", "tcp", "tcp", "", "p2"))
	eventually(t, "TCP route moved to P2", func() bool {
		line, c, _, err := dialLine(tcpPort, nil)
		if err == nil {
			c.Close()
		}
		return line == "P2 -"
	})
	fmt.Fprint(live, "still here\n")
	if line, err := liveR.ReadString('\n'); err != nil || line != "echo still here\n" {
		t.Fatalf("connection opened before the change: %q, %v; want it kept", line, err)
	}
}
