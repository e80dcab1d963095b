package translate

import (
	"fmt"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// translateFilters converts HTTPRoute filters. An unsupported or invalid
// filter is an error for the rule (the rule is left out and reported).
func (t *Translator) translateFilters(ctx *collection.Ctx, hr *gwv1.HTTPRoute, filters []gwv1.HTTPRouteFilter, rr *ruleResults, field string) ([]ir.Filter, error) {
	var out []ir.Filter
	for i, f := range filters {
		ff := fmt.Sprintf("%s[%d]", field, i)
		var got ir.Filter
		switch f.Type {
		case gwv1.HTTPRouteFilterRequestHeaderModifier:
			if f.RequestHeaderModifier == nil {
				return nil, fmt.Errorf("%s: requestHeaderModifier is required for its type", ff)
			}
			got = ir.Filter{Type: ir.FilterRequestHeaders, RequestHeaders: headerModifier(f.RequestHeaderModifier)}
		case gwv1.HTTPRouteFilterResponseHeaderModifier:
			if f.ResponseHeaderModifier == nil {
				return nil, fmt.Errorf("%s: responseHeaderModifier is required for its type", ff)
			}
			got = ir.Filter{Type: ir.FilterResponseHeaders, ResponseHeaders: headerModifier(f.ResponseHeaderModifier)}
		case gwv1.HTTPRouteFilterRequestRedirect:
			if f.RequestRedirect == nil {
				return nil, fmt.Errorf("%s: requestRedirect is required for its type", ff)
			}
			got = ir.Filter{Type: ir.FilterRedirect, Redirect: redirect(f.RequestRedirect)}
		case gwv1.HTTPRouteFilterURLRewrite:
			if f.URLRewrite == nil {
				return nil, fmt.Errorf("%s: urlRewrite is required for its type", ff)
			}
			rw := &ir.Rewrite{Path: pathModifier(f.URLRewrite.Path)}
			if f.URLRewrite.Hostname != nil {
				rw.Hostname = string(*f.URLRewrite.Hostname)
			}
			got = ir.Filter{Type: ir.FilterRewrite, Rewrite: rw}
		case gwv1.HTTPRouteFilterRequestMirror:
			if f.RequestMirror == nil {
				return nil, fmt.Errorf("%s: requestMirror is required for its type", ff)
			}
			ref := t.resolveBackend(ctx, routeRef{Kind: "HTTPRoute", Namespace: hr.Namespace}, f.RequestMirror.BackendRef, ff+".requestMirror.backendRef", rr)
			if ref.Invalid != "" {
				continue // reported in ResolvedRefs; the rule still serves without the mirror
			}
			got = ir.Filter{Type: ir.FilterMirror, Mirror: &ir.Mirror{Backend: ref, Percent: mirrorPercent(f.RequestMirror)}}
		case gwv1.HTTPRouteFilterCORS:
			if f.CORS == nil {
				return nil, fmt.Errorf("%s: cors is required for its type", ff)
			}
			got = ir.Filter{Type: ir.FilterCORS, CORS: cors(f.CORS)}
		default:
			return nil, fmt.Errorf("%s: filter type %s is not supported", ff, f.Type)
		}
		out = append(out, got)
	}
	if err := checkFilterCombination(out); err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	return out, nil
}

// checkFilterCombination rejects combinations the spec forbids: a redirect
// together with a URL rewrite, and more than one of either.
func checkFilterCombination(fs []ir.Filter) error {
	n := map[ir.FilterType]int{}
	for _, f := range fs {
		n[f.Type]++
	}
	if n[ir.FilterRedirect] > 0 && n[ir.FilterRewrite] > 0 {
		return fmt.Errorf("RequestRedirect and URLRewrite cannot be used together")
	}
	for _, t := range []ir.FilterType{ir.FilterRedirect, ir.FilterRewrite, ir.FilterRequestHeaders, ir.FilterResponseHeaders, ir.FilterCORS} {
		if n[t] > 1 {
			return fmt.Errorf("%s may appear at most once", t)
		}
	}
	return nil
}

func headerModifier(h *gwv1.HTTPHeaderFilter) *ir.HeaderModifier {
	out := &ir.HeaderModifier{Remove: append([]string(nil), h.Remove...)}
	for _, s := range h.Set {
		out.Set = append(out.Set, ir.Header{Name: string(s.Name), Value: s.Value})
	}
	for _, a := range h.Add {
		out.Add = append(out.Add, ir.Header{Name: string(a.Name), Value: a.Value})
	}
	return out
}

func redirect(r *gwv1.HTTPRequestRedirectFilter) *ir.Redirect {
	out := &ir.Redirect{StatusCode: 302, Path: pathModifier(r.Path)}
	if r.Scheme != nil {
		out.Scheme = strings.ToLower(*r.Scheme)
	}
	if r.Hostname != nil {
		out.Hostname = string(*r.Hostname)
	}
	if r.Port != nil {
		p := int32(*r.Port)
		out.Port = &p
	}
	if r.StatusCode != nil {
		out.StatusCode = *r.StatusCode
	}
	return out
}

func pathModifier(p *gwv1.HTTPPathModifier) *ir.PathModifier {
	if p == nil {
		return nil
	}
	switch p.Type {
	case gwv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath != nil {
			return &ir.PathModifier{Type: ir.ReplaceFullPath, Value: *p.ReplaceFullPath}
		}
	case gwv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch != nil {
			return &ir.PathModifier{Type: ir.ReplacePrefixMatch, Value: *p.ReplacePrefixMatch}
		}
	}
	return nil
}

func mirrorPercent(m *gwv1.HTTPRequestMirrorFilter) float64 {
	switch {
	case m.Percent != nil:
		return float64(*m.Percent)
	case m.Fraction != nil:
		den := int32(100)
		if m.Fraction.Denominator != nil && *m.Fraction.Denominator > 0 {
			den = *m.Fraction.Denominator
		}
		return 100 * float64(m.Fraction.Numerator) / float64(den)
	}
	return 100
}

func cors(c *gwv1.HTTPCORSFilter) *ir.CORS {
	out := &ir.CORS{MaxAge: c.MaxAge}
	if c.AllowCredentials != nil {
		out.AllowCredentials = *c.AllowCredentials
	}
	for _, o := range c.AllowOrigins {
		out.AllowOrigins = append(out.AllowOrigins, string(o))
	}
	for _, m := range c.AllowMethods {
		out.AllowMethods = append(out.AllowMethods, string(m))
	}
	for _, h := range c.AllowHeaders {
		out.AllowHeaders = append(out.AllowHeaders, string(h))
	}
	for _, h := range c.ExposeHeaders {
		out.ExposeHeaders = append(out.ExposeHeaders, string(h))
	}
	return out
}
