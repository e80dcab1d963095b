package translate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// policyResult is a TrafficPolicy translated: its IR (nil when no target
// resolved) and its status.
type policyResult struct {
	IR     *ir.Policy
	Status ObjectStatus
}

// translatePolicy resolves a TrafficPolicy's targets and compiles its CEL
// expressions. An expression that does not compile makes the policy
// Accepted=False with the CEL error; a broken authorization section still
// travels (marked invalid) so the proxy denies its targets' requests: it fails
// closed. Broken transformations and pre-routing sections are left out.
func (t *Translator) translatePolicy(ctx *collection.Ctx, key string, p *v1alpha1.TrafficPolicy) (*policyResult, bool) {
	out := &ir.Policy{Name: key, Created: p.CreationTimestamp.Time}
	ancestors := map[string]bool{}
	var missing []string
	for i, ref := range p.Spec.TargetRefs {
		targets, gws, err := t.resolvePolicyTarget(ctx, p.Namespace, ref)
		if err != "" {
			missing = append(missing, fmt.Sprintf("spec.targetRefs[%d]: %s", i, err))
			continue
		}
		out.Targets = append(out.Targets, targets...)
		for _, g := range gws {
			ancestors[g] = true
		}
	}
	if len(ancestors) == 0 {
		return nil, false // nothing of ours is targeted: no IR, no status of ours
	}
	out.Gateways = sortedKeys(ancestors)
	var problems []string
	if a := p.Spec.Authorization; a != nil {
		out.Authorization = &ir.PolicyAuthorization{Allow: a.Allow, Deny: a.Deny, Require: a.Require, DenyStatus: 403, DenyBody: "forbidden"}
		if a.DenyResponse != nil {
			out.Authorization.DenyStatus, out.Authorization.DenyBody = a.DenyResponse.Status, a.DenyResponse.Body
		}
		if errs := t.compileAll(cel.BoolType, "spec.authorization", map[string][]string{"allow": a.Allow, "deny": a.Deny, "require": a.Require}); len(errs) > 0 {
			out.Authorization.Invalid = strings.Join(errs, "; ")
			problems = append(problems, errs...)
		}
	}
	if tr := p.Spec.Transformation; tr != nil {
		var errs []string
		out.RequestHeaders, errs = t.celTransform(tr.Request, "spec.transformation.request")
		problems = append(problems, errs...)
		out.ResponseHeaders, errs = t.celTransform(tr.Response, "spec.transformation.response")
		problems = append(problems, errs...)
	}
	if al := p.Spec.AccessLog; al != nil {
		out.AccessLog, problems = t.accessLog(al, problems)
	}
	if j := p.Spec.JWT; j != nil {
		out.JWT = &ir.PolicyJWT{Issuer: j.Issuer, Audiences: j.Audiences, JWKSInline: j.JWKS.Inline, JWKSURL: j.JWKS.URL, Optional: j.Optional}
		if err := validateJWKS(j.JWKS); err != "" {
			problems = append(problems, "spec.jwt.jwks: "+err)
			out.JWT.Invalid = err // the proxy refuses every request: fails closed
		}
	}
	if pr := p.Spec.PreRouting; pr != nil {
		hs, errs := t.celHeaders(pr.SetHeaders, "spec.preRouting.setHeaders")
		body, bodyErrs := preRoutingBody(pr)
		errs = append(errs, bodyErrs...)
		if len(errs) == 0 {
			out.PreRouting, out.PreRoutingBody = hs, body
		}
		problems = append(problems, errs...)
	}
	return &policyResult{IR: out, Status: policyStatus(p, sortedKeys(ancestors), problems, missing, t.controller)}, true
}

// resolvePolicyTarget maps one targetRef to IR targets and the Gateways they
// belong to. err says why it did not resolve.
func (t *Translator) resolvePolicyTarget(ctx *collection.Ctx, ns string, ref gwv1.LocalPolicyTargetReferenceWithSectionName) ([]ir.PolicyTarget, []string, string) {
	if ref.Group != gwv1.GroupName {
		return nil, nil, fmt.Sprintf("group %q is not supported", ref.Group)
	}
	key := ns + "/" + string(ref.Name)
	switch ref.Kind {
	case "Gateway":
		g, ok := collection.Fetch(ctx, t.gateways, key)
		if !ok {
			return nil, nil, fmt.Sprintf("Gateway %s not found (or not ours)", key)
		}
		if ref.SectionName == nil {
			return []ir.PolicyTarget{{Kind: ir.TargetGateway, Name: key}}, []string{key}, ""
		}
		for _, l := range g.Listeners {
			if l.Name == string(*ref.SectionName) {
				return []ir.PolicyTarget{{Kind: ir.TargetListener, Name: l.Key}}, []string{key}, ""
			}
		}
		return nil, nil, fmt.Sprintf("Gateway %s has no listener %q", key, *ref.SectionName)
	case "ListenerSet":
		// A policy on a ListenerSet applies to its listeners only, never to
		// the parent Gateway's own.
		s, ok := collection.Fetch(ctx, t.listenerSetViews, key)
		if !ok || s.NotAccepted != "" {
			return nil, nil, fmt.Sprintf("ListenerSet %s not found or not attached to a Gateway of ours", key)
		}
		var targets []ir.PolicyTarget
		for _, l := range s.Listeners {
			if ref.SectionName == nil || l.Name == string(*ref.SectionName) {
				targets = append(targets, ir.PolicyTarget{Kind: ir.TargetListener, Name: l.Key})
			}
		}
		if len(targets) == 0 {
			return nil, nil, fmt.Sprintf("ListenerSet %s has no listener %q", key, *ref.SectionName)
		}
		return targets, []string{s.Gateway}, ""
	case "HTTPRoute":
		r, ok := collection.Fetch(ctx, t.routes, routeKey("HTTPRoute", key))
		if !ok || len(r.Rules) == 0 {
			return nil, nil, fmt.Sprintf("HTTPRoute %s not found or not attached to a Gateway of ours", key)
		}
		gws := map[string]bool{}
		for _, l := range r.Listeners {
			gws[gatewayOfListener(l)] = true
		}
		if ref.SectionName == nil {
			return []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: key}}, sortedKeys(gws), ""
		}
		for _, rule := range r.Rules {
			if rule.RuleName == string(*ref.SectionName) {
				return []ir.PolicyTarget{{Kind: ir.TargetRule, Name: rule.Name}}, sortedKeys(gws), ""
			}
		}
		return nil, nil, fmt.Sprintf("HTTPRoute %s has no rule named %q", key, *ref.SectionName)
	}
	return nil, nil, fmt.Sprintf("kind %q is not supported; use Gateway, ListenerSet or HTTPRoute", ref.Kind)
}

func (t *Translator) compileAll(want cel.OutputType, field string, lists map[string][]string) []string {
	var errs []string
	for _, name := range []string{"allow", "deny", "require"} {
		for i, expr := range lists[name] {
			if _, err := t.cel.Compile(expr, want); err != nil {
				errs = append(errs, fmt.Sprintf("%s.%s[%d]: %v", field, name, i, err))
			}
		}
	}
	return errs
}

func (t *Translator) celHeaders(hs []v1alpha1.CELHeader, field string) ([]ir.CELHeader, []string) {
	var out []ir.CELHeader
	var errs []string
	for i, h := range hs {
		if _, err := t.cel.Compile(h.Value, cel.StringType); err != nil {
			errs = append(errs, fmt.Sprintf("%s[%d] (%s): %v", field, i, h.Name, err))
			continue
		}
		out = append(out, ir.CELHeader{Name: h.Name, Expr: h.Value})
	}
	return out, errs
}

// celTransform compiles one direction of a transformation; a section with an
// error is left out entirely (traffic is unaffected) and reported.
func (t *Translator) celTransform(h *v1alpha1.HeaderTransformation, field string) (*ir.CELTransform, []string) {
	if h == nil {
		return nil, nil
	}
	set, errs := t.celHeaders(h.Set, field+".set")
	add, errs2 := t.celHeaders(h.Add, field+".add")
	errs = append(errs, errs2...)
	if h.Body != "" {
		if _, err := t.cel.Compile(h.Body, cel.BodyType); err != nil {
			errs = append(errs, fmt.Sprintf("%s.body: %v", field, err))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &ir.CELTransform{Set: set, Add: add, Remove: h.Remove, Body: h.Body}, nil
}

// policyStatus builds status.ancestors for our controller: one entry per
// Gateway the targets belong to.
func policyStatus(p *v1alpha1.TrafficPolicy, ancestors, problems, missing []string, controller string) ObjectStatus {
	st := &v1alpha1.TrafficPolicyStatus{}
	accepted := cond(gwv1.PolicyConditionAccepted, true, gwv1.PolicyReasonAccepted, "Policy is applied", p.Generation)
	switch {
	case len(problems) > 0:
		accepted = cond(gwv1.PolicyConditionAccepted, false, gwv1.PolicyReasonInvalid, strings.Join(problems, "; "), p.Generation)
	case len(missing) > 0:
		accepted = cond(gwv1.PolicyConditionAccepted, true, gwv1.PolicyReasonAccepted,
			"Policy is applied to the targets that exist; "+strings.Join(missing, "; "), p.Generation)
	}
	for _, a := range ancestors {
		ns, name, _ := strings.Cut(a, "/")
		st.Ancestors = append(st.Ancestors, gwv1.PolicyAncestorStatus{
			AncestorRef:    gwv1.ParentReference{Group: ptr(gwv1.Group(gwv1.GroupName)), Kind: ptr(gwv1.Kind("Gateway")), Namespace: ptr(gwv1.Namespace(ns)), Name: gwv1.ObjectName(name)},
			ControllerName: gwv1.GatewayController(controller),
			Conditions:     []metav1.Condition{accepted},
		})
	}
	return ObjectStatus{Kind: v1alpha1.TrafficPolicyKind, Namespace: p.Namespace, Name: p.Name, TrafficPolicy: st}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validateJWKS checks that exactly one key source is given and that an
// inline set parses with at least one key.
func validateJWKS(j v1alpha1.JWKS) string {
	switch {
	case j.Inline == "" && j.URL == "":
		return "set inline or url"
	case j.Inline != "" && j.URL != "":
		return "set only one of inline and url"
	case j.URL != "":
		if !strings.HasPrefix(j.URL, "https://") && !strings.HasPrefix(j.URL, "http://") {
			return fmt.Sprintf("url %q must be http(s)", j.URL)
		}
		return ""
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(j.Inline), &set); err != nil {
		return "inline is not a JSON Web Key Set: " + err.Error()
	}
	if len(set.Keys) == 0 {
		return "inline has no keys"
	}
	return ""
}

// accessLog compiles access-log fields (any type) and the filter (bool); a
// section with an error is left out and reported.
func (t *Translator) accessLog(al *v1alpha1.AccessLog, problems []string) (*ir.PolicyAccessLog, []string) {
	out := &ir.PolicyAccessLog{Filter: al.Filter}
	bad := false
	for i, f := range al.Fields {
		if _, err := t.cel.Compile(f.Value, cel.AnyType); err != nil {
			problems = append(problems, fmt.Sprintf("spec.accessLog.fields[%d] (%s): %v", i, f.Name, err))
			bad = true
			continue
		}
		out.Fields = append(out.Fields, ir.CELHeader{Name: f.Name, Expr: f.Value})
	}
	if al.Filter != "" {
		if _, err := t.cel.Compile(al.Filter, cel.BoolType); err != nil {
			problems = append(problems, fmt.Sprintf("spec.accessLog.filter: %v", err))
			bad = true
		}
	}
	if bad {
		return nil, problems
	}
	return out, problems
}
