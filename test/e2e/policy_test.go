package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func policyRoutes(pa, pb int) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - name: admin
    matches: [{path: {type: PathPrefix, value: /admin}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a, port: %[1]d}]
  - name: model-b
    matches: [{headers: [{name: x-model, value: gpt-b}]}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: b, port: %[2]d}]
  - backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a, port: %[1]d}]
`, pa, pb)
}

const policies = `apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: admins, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: admin}]
  authorization:
    require: ['request.headers["x-role"] == "admin"']
    denyResponse: {status: 401, body: "admins only"}
---
apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: gateway-wide, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  preRouting:
    setHeaders: [{name: x-model, value: 'json(request.body).model'}]
  transformation:
    request:
      set: [{name: x-path-len, value: 'string(size(request.path))'}]
    response:
      set: [{name: x-matched-route, value: 'route'}]
`

func TestTrafficPolicies(t *testing.T) {
	ha, pa := upstream(t, "a")
	hb, pb := upstream(t, "b")
	g := startGateway(t, map[string]string{
		"backends.yaml": staticBackend("a", ha, pa) + "---\n" + staticBackend("b", hb, pb),
		"routes.yaml":   policyRoutes(pa, pb),
		"policies.yaml": policies,
	})
	// Authorization on one rule: denied with the configured response, then
	// allowed with the header.
	resp, body := g.get("/admin/x", "")
	if resp.StatusCode != 401 || body != "admins only" {
		t.Errorf("admin without role: %d %q, want 401 admins only", resp.StatusCode, body)
	}
	if resp, _ = g.get("/admin/x", "", "X-Role", "admin"); resp.StatusCode != 200 {
		t.Errorf("admin with role: %d", resp.StatusCode)
	}
	// Transformations from CEL, request and response.
	resp, _ = g.get("/hello", "")
	if resp.Header.Get("X-Seen-X-Path-Len") != "6" || resp.Header.Get("X-Matched-Route") != "default/api" {
		t.Errorf("transformations: path-len %q route %q", resp.Header.Get("X-Seen-X-Path-Len"), resp.Header.Get("X-Matched-Route"))
	}
	// Pre-routing: the body's model picks the route through an ordinary
	// header match; a spoofed header with a non-JSON body is removed.
	post := func(body, spoof string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, g.url("/v1/chat"), strings.NewReader(body))
		if spoof != "" {
			req.Header.Set("X-Model", spoof)
		}
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := post(`{"model":"gpt-b","messages":[]}`, ""); r.Header.Get("X-Upstream") != "b" {
		t.Errorf("model gpt-b routed to %q, want b", r.Header.Get("X-Upstream"))
	}
	if r := post(`not json`, "gpt-b"); r.Header.Get("X-Upstream") != "a" {
		t.Errorf("spoofed x-model with a non-JSON body routed to %q, want a (header removed)", r.Header.Get("X-Upstream"))
	}
	if !strings.Contains(g.adminGet("/status"), "Policy is applied") {
		t.Errorf("policy status missing")
	}
}

func TestBrokenAuthorizationFailsClosed(t *testing.T) {
	h, p := upstream(t, "a")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml":   routeTo("r", "", "/", "a", p),
	})
	if resp, _ := g.get("/", ""); resp.StatusCode != 200 {
		t.Fatalf("before the policy: %d", resp.StatusCode)
	}
	const broken = `apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: broken, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]
  authorization:
    allow: ['request.hedaers["x"] == "y"']
`
	g.write("policy.yaml", broken)
	eventually(t, "broken authorization denies", func() bool {
		resp, _ := g.get("/", "")
		return resp.StatusCode == 403
	})
	st := g.adminGet("/status")
	if !strings.Contains(st, "undefined field 'hedaers'") {
		t.Errorf("status does not carry the CEL error:\n%s", st)
	}
	// Fixing the expression restores traffic.
	g.write("policy.yaml", strings.Replace(broken, "hedaers", "headers", 1))
	eventually(t, "fixed authorization", func() bool {
		resp, _ := g.get("/", "", "X", "y")
		return resp.StatusCode == 200
	})
}

// TestJWTPolicy: a TrafficPolicy verifies bearer tokens from an inline key
// set and authorizes on a claim.
func TestJWTPolicy(t *testing.T) {
	h, p := upstream(t, "a")
	iss := newJWTIssuer(t)
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml":   routeTo("r", "", "/", "a", p),
		"policy.yaml": fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: jwt, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]
  jwt:
    issuer: https://issuer.example
    jwks: {inline: '%s'}
  authorization:
    require: ['jwt.sub == "admin"']
`, iss.jwks),
	})
	if resp, _ := g.get("/", ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %v, want 401 with WWW-Authenticate", resp.StatusCode, resp.Header)
	}
	if resp, _ := g.get("/", "", "Authorization", "Bearer "+iss.sign(t, "https://issuer.example", "bob")); resp.StatusCode != 403 {
		t.Errorf("valid token, wrong subject: %d, want 403", resp.StatusCode)
	}
	if resp, _ := g.get("/", "", "Authorization", "Bearer "+iss.sign(t, "https://evil.example", "admin")); resp.StatusCode != 401 {
		t.Errorf("wrong issuer: %d, want 401", resp.StatusCode)
	}
	if resp, _ := g.get("/", "", "Authorization", "Bearer "+iss.sign(t, "https://issuer.example", "admin")); resp.StatusCode != 200 {
		t.Errorf("admin token: %d, want 200", resp.StatusCode)
	}
}
