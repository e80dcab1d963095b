package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoutesFiltersAndRedirects(t *testing.T) {
	h, p := upstream(t, "a")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml": `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Route, value: api}], remove: [X-Secret]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: X-Served-By, value: gatehouse}]}
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a, port: ` + fmt.Sprint(p) + `}]
  - matches: [{path: {type: Exact, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: example.com, statusCode: 301}
`,
	})
	resp, body := g.get("/api/users?id=7", "", "X-Secret", "s3cret")
	if resp.StatusCode != 200 || !strings.Contains(body, "hello from a") {
		t.Fatalf("GET /api/users: %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Seen-Path"); got != "/v2/users?id=7" {
		t.Errorf("rewritten path %q, want /v2/users?id=7", got)
	}
	if resp.Header.Get("X-Seen-X-Route") != "api" || resp.Header.Get("X-Seen-X-Secret") != "" {
		t.Errorf("request headers not modified: %v", resp.Header)
	}
	if resp.Header.Get("X-Served-By") != "gatehouse" {
		t.Errorf("response header not added: %v", resp.Header)
	}
	resp, _ = g.get("/old?q=1", "")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://example.com/old?q=1" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ = g.get("/nothing", ""); resp.StatusCode != 404 {
		t.Errorf("unmatched path: %d, want 404", resp.StatusCode)
	}
}

func TestConfigChangesAreServedWithoutRestart(t *testing.T) {
	ha, pa := upstream(t, "a")
	hb, pb := upstream(t, "b")
	g := startGateway(t, map[string]string{
		"backends.yaml": staticBackend("a", ha, pa) + "---\n" + staticBackend("b", hb, pb),
		"r1.yaml":       routeTo("r1", "", "/one", "a", pa),
	})
	if resp, _ := g.get("/two", ""); resp.StatusCode != 404 {
		t.Fatalf("/two before the route exists: %d", resp.StatusCode)
	}
	g.write("r2.yaml", routeTo("r2", "", "/two", "b", pb))
	eventually(t, "new route served", func() bool {
		resp, _ := g.get("/two", "")
		return resp.StatusCode == 200 && resp.Header.Get("X-Upstream") == "b"
	})
	// Point r1 at b instead of a.
	g.write("r1.yaml", routeTo("r1", "", "/one", "b", pb))
	eventually(t, "changed route served", func() bool {
		resp, _ := g.get("/one", "")
		return resp.Header.Get("X-Upstream") == "b"
	})
	g.remove("r2.yaml")
	eventually(t, "deleted route gone", func() bool {
		resp, _ := g.get("/two", "")
		return resp.StatusCode == 404
	})
}

func TestBadFileKeepsPreviousConfig(t *testing.T) {
	h, p := upstream(t, "a")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml":   routeTo("r", "", "/", "a", p),
	})
	if resp, _ := g.get("/x", ""); resp.StatusCode != 200 {
		t.Fatalf("before: %d", resp.StatusCode)
	}
	g.write("route.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r\n  broken: [")
	eventually(t, "problem reported", func() bool { return strings.Contains(g.adminGet("/problems"), "route.yaml") })
	if resp, _ := g.get("/x", ""); resp.StatusCode != 200 {
		t.Fatalf("route stopped serving after a broken file: %d", resp.StatusCode)
	}
	// An unknown field is a per-object problem naming the field; the
	// previous version of that object stays in force too.
	g.write("route.yaml", strings.Replace(routeTo("r", "", "/", "a", p), "parentRefs:", "parentRefz:", 1))
	eventually(t, "field problem reported", func() bool { return strings.Contains(g.adminGet("/problems"), "parentRefz") })
	if resp, _ := g.get("/x", ""); resp.StatusCode != 200 {
		t.Fatalf("route stopped serving after an invalid object: %d", resp.StatusCode)
	}
	g.write("route.yaml", routeTo("r", "", "/y", "a", p))
	eventually(t, "fixed file applied", func() bool {
		resp, _ := g.get("/x", "")
		return resp.StatusCode == 404 && strings.TrimSpace(g.adminGet("/problems")) == "[]"
	})
}

func TestInvalidReferencesGet500AndStatus(t *testing.T) {
	h, p := upstream(t, "a")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml": fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /missing}}]
    backendRefs: [{name: no-such-service, port: 80}]
  - matches: [{path: {type: RegularExpression, value: "/bad/(["}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a, port: %d}]
  - matches: [{path: {type: PathPrefix, value: /ok}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a, port: %d}]
`, p, p),
	})
	if resp, body := g.get("/missing", ""); resp.StatusCode != 500 || !strings.Contains(body, "no-such-service") {
		t.Errorf("missing backend: %d %q, want 500 naming the Service", resp.StatusCode, body)
	}
	if resp, _ := g.get("/ok", ""); resp.StatusCode != 200 {
		t.Errorf("valid rule next to invalid ones: %d", resp.StatusCode)
	}
	st := g.adminGet("/status")
	for _, want := range []string{"BackendNotFound", "PartiallyInvalid", "invalid regular expression"} {
		if !strings.Contains(st, want) {
			t.Errorf("status lacks %q:\n%s", want, st)
		}
	}
}

func TestHostRoutingAndListenerIsolation(t *testing.T) {
	ha, pa := upstream(t, "a")
	hb, pb := upstream(t, "b")
	g := startGateway(t, map[string]string{
		"gateway.yaml": gatewayWith(`  - {name: wild, port: %[1]d, protocol: HTTP, hostname: "*.example.com"}
  - {name: exact, port: %[1]d, protocol: HTTP, hostname: "api.example.com"}
`),
		"backends.yaml": staticBackend("a", ha, pa) + "---\n" + staticBackend("b", hb, pb),
		"routes.yaml": strings.Replace(routeTo("wild", "", "/", "a", pa), "parentRefs: [{name: gw}]", "parentRefs: [{name: gw, sectionName: wild}]", 1) + "---\n" +
			strings.Replace(routeTo("api", "", "/v1", "b", pb), "parentRefs: [{name: gw}]", "parentRefs: [{name: gw, sectionName: exact}]", 1),
	})
	if resp, _ := g.get("/", "www.example.com"); resp.Header.Get("X-Upstream") != "a" {
		t.Errorf("www.example.com: upstream %q, want a", resp.Header.Get("X-Upstream"))
	}
	if resp, _ := g.get("/v1/x", "api.example.com"); resp.Header.Get("X-Upstream") != "b" {
		t.Errorf("api.example.com/v1: upstream %q, want b", resp.Header.Get("X-Upstream"))
	}
	// Listener isolation: api.example.com belongs to the exact listener only;
	// the wildcard listener's catch-all route must not serve it.
	if resp, _ := g.get("/other", "api.example.com"); resp.StatusCode != 404 {
		t.Errorf("api.example.com/other: %d, want 404 (listener isolation)", resp.StatusCode)
	}
	if resp, _ := g.get("/", "example.org"); resp.StatusCode != 404 {
		t.Errorf("host of no listener: %d, want 404", resp.StatusCode)
	}
}

func TestMalformedRequests(t *testing.T) {
	h, p := upstream(t, "a")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml":   routeTo("r", "", "/", "a", p),
	})
	big := strings.Repeat("x", 100<<10)
	resp, _ := g.get("/", "", "X-Big", big)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KB header: %d, want 431", resp.StatusCode)
	}
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Longer than the 14-byte HTTP/2 preface sniff, so it is parsed at once.
	fmt.Fprintf(conn, "THIS IS NOT HTTP AT ALL\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.Contains(line, "400") {
		t.Errorf("malformed request line: %q, want 400", line)
	}
	if resp, _ := g.get("/", ""); resp.StatusCode != 200 {
		t.Errorf("gateway stopped serving after bad requests: %d", resp.StatusCode)
	}
}

// TestNoErrorsWhileRoutesChange keeps a client busy on one route while 40
// other routes are added and removed: every request must succeed.
func TestNoErrorsWhileRoutesChange(t *testing.T) {
	h, p := upstream(t, "a")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("a", h, p),
		"stable.yaml":  routeTo("stable", "", "/stable", "a", p),
	})
	var failures, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(g.url("/stable"))
				total.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("churn%d.yaml", i)
		g.write(name, routeTo(fmt.Sprintf("churn%d", i), "", fmt.Sprintf("/c%d", i), "a", p))
		if i%3 == 0 {
			g.remove(name)
		}
		time.Sleep(5 * time.Millisecond)
	}
	eventually(t, "last churn route served", func() bool {
		resp, _ := g.get("/c38", "")
		return resp.StatusCode == 200
	})
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || total.Load() == 0 {
		t.Fatalf("%d of %d requests failed while routes changed", failures.Load(), total.Load())
	}
}

// TestPortAlreadyTaken: a listener whose port another process holds gets
// Accepted=False/PortUnavailable; the other listener keeps serving; once the
// port is free, the next config change opens it.
func TestPortAlreadyTaken(t *testing.T) {
	h, p := upstream(t, "a")
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := squatter.Addr().(*net.TCPAddr).Port
	g := startGateway(t, map[string]string{
		"gateway.yaml": gatewayWith(`  - {name: free, port: %d, protocol: HTTP}
  - {name: taken, port: ` + fmt.Sprint(taken) + `, protocol: HTTP}
`),
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml":   routeTo("r", "", "/", "a", p),
	})
	eventually(t, "PortUnavailable reported", func() bool {
		return strings.Contains(g.adminGet("/status"), "PortUnavailable")
	})
	if resp, _ := g.get("/", ""); resp.StatusCode != 200 {
		t.Fatalf("the free listener stopped serving: %d", resp.StatusCode)
	}
	squatter.Close()
	g.write("route.yaml", routeTo("r", "", "/x", "a", p)) // any change retries the bind
	eventually(t, "freed port served", func() bool {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/x", taken))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200 && !strings.Contains(g.adminGet("/status"), "PortUnavailable")
	})
}
