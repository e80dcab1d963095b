package policy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/ir"
)

func build(t *testing.T, ps ...*ir.Policy) *Set {
	t.Helper()
	s, rej := Empty.Update(ps, nil)
	if len(rej) != 0 {
		t.Fatalf("rejections: %v", rej)
	}
	return s
}

func TestAuthorizationAppliesAtEveryLevel(t *testing.T) {
	s := build(t,
		&ir.Policy{Name: "ns/gw", Targets: []ir.PolicyTarget{{Kind: ir.TargetGateway, Name: "ns/gw"}},
			Authorization: &ir.PolicyAuthorization{Deny: []string{`"x-block" in request.headers && request.headers["x-block"] == "1"`}, DenyStatus: 403, DenyBody: "blocked"}},
		&ir.Policy{Name: "ns/rule", Targets: []ir.PolicyTarget{{Kind: ir.TargetRule, Name: "ns/r/0"}},
			Authorization: &ir.PolicyAuthorization{Allow: []string{`request.method == "GET"`}, DenyStatus: 405, DenyBody: "GET only"}},
	)
	a := s.ForRequest("ns/gw", "ns/gw/http", "ns/r", "ns/r/0", nil)
	for _, tc := range []struct {
		method, block string
		status        int
	}{{"GET", "", 0}, {"POST", "", 405}, {"GET", "1", 403}} {
		r := httptest.NewRequest(tc.method, "/", nil)
		if tc.block != "" {
			r.Header.Set("X-Block", tc.block)
		}
		status, _, ok := a.Authorize(&cel.Context{Request: r})
		if (tc.status == 0) != ok || (!ok && status != tc.status) {
			t.Errorf("%s block=%q: status %d ok %v, want %d", tc.method, tc.block, status, ok, tc.status)
		}
	}
	// Another rule of the same route is only under the Gateway policy.
	other := s.ForRequest("ns/gw", "ns/gw/http", "ns/r", "ns/r/1", nil)
	if _, _, ok := other.Authorize(&cel.Context{Request: httptest.NewRequest("POST", "/", nil)}); !ok {
		t.Errorf("rule policy leaked onto another rule")
	}
}

func TestMostSpecificTransformationWins(t *testing.T) {
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := build(t,
		&ir.Policy{Name: "ns/gw", Targets: []ir.PolicyTarget{{Kind: ir.TargetGateway, Name: "ns/gw"}},
			RequestHeaders: &ir.CELTransform{Set: []ir.CELHeader{{Name: "x-level", Expr: `"gateway"`}}}},
		&ir.Policy{Name: "ns/route-new", Created: old.Add(time.Hour), Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
			RequestHeaders: &ir.CELTransform{Set: []ir.CELHeader{{Name: "x-level", Expr: `"route-new"`}}}},
		&ir.Policy{Name: "ns/route-old", Created: old, Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
			RequestHeaders: &ir.CELTransform{Set: []ir.CELHeader{{Name: "x-level", Expr: `"route-old"`}}, Remove: []string{"x-drop"}}},
	)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Drop", "1")
	s.ForRequest("ns/gw", "", "ns/r", "ns/r/0", nil).TransformRequest(&cel.Context{Request: r}, r)
	if got := r.Header.Get("X-Level"); got != "route-old" {
		t.Errorf("x-level = %q, want route-old (most specific, then oldest)", got)
	}
	if r.Header.Get("X-Drop") != "" {
		t.Errorf("remove not applied")
	}
	r2 := httptest.NewRequest("GET", "/", nil)
	s.ForRequest("ns/gw", "", "ns/other", "ns/other/0", nil).TransformRequest(&cel.Context{Request: r2}, r2)
	if got := r2.Header.Get("X-Level"); got != "gateway" {
		t.Errorf("other route: x-level = %q, want gateway", got)
	}
}

func TestPreRoutingRemovesSpoofedHeader(t *testing.T) {
	s := build(t, &ir.Policy{Name: "ns/p", Targets: []ir.PolicyTarget{{Kind: ir.TargetListener, Name: "ns/gw/http"}},
		PreRouting: []ir.CELHeader{{Name: "x-model", Expr: `json(request.body).model`}}})
	pre := s.PreRouting("ns/gw", "ns/gw/http")
	if pre == nil || !pre.Uses().RequestBody {
		t.Fatalf("pre-routing policy not found or body use not detected")
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-Model", "spoofed")
	pre.SetPreRoutingHeaders(&cel.Context{Request: r, Body: []byte("not json")}, r)
	if _, ok := r.Header[http.CanonicalHeaderKey("x-model")]; ok {
		t.Errorf("spoofed header kept: %v", r.Header)
	}
	pre.SetPreRoutingHeaders(&cel.Context{Request: r, Body: []byte(`{"model":"m1"}`)}, r)
	if r.Header.Get("X-Model") != "m1" {
		t.Errorf("x-model = %q, want m1", r.Header.Get("X-Model"))
	}
}
