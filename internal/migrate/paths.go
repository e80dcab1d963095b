package migrate

import (
	"fmt"
	"regexp"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// regexChars are the characters that make an ingress-nginx path a regular
// expression when use-regex (or rewrite-target) is set. A dot alone does
// not: "/file.txt" is meant literally.
const regexChars = `^$()[]{}*+?|\`

// Capture forms of rewrite-target that have an exact Gateway API
// equivalent: PathPrefix P with ReplacePrefixMatch T.
var (
	// P(/|$)(.*) with T$2
	captureSlashOrEnd = regexp.MustCompile(`^(/[^` + regexpQuote(regexChars) + `]*?)\(/\|\$\)\(\.\*\)$`)
	// P/(.*) with T$1
	captureAfterSlash = regexp.MustCompile(`^(/[^` + regexpQuote(regexChars) + `]*?)/\(\.\*\)$`)
)

func regexpQuote(chars string) string {
	var b strings.Builder
	for _, r := range chars {
		b.WriteString(`\`)
		b.WriteRune(r)
	}
	return b.String()
}

// pathPlan is how one Ingress path is matched and rewritten.
type pathPlan struct {
	match   gwv1.HTTPPathMatch
	rewrite *gwv1.HTTPPathModifier
}

// planPath translates one Ingress path with the Ingress's use-regex and
// rewrite-target, recording findings and the rewrite outcome.
func (c *ingressConfig) planPath(p networkingv1.HTTPIngressPath, field string, rep *ObjectReport) (pathPlan, bool) {
	value := p.Path
	if value == "" {
		value = "/"
	}
	regexMode := c.useRegex || c.rewriteTarget != ""
	isRegex := regexMode && strings.ContainsAny(value, regexChars)
	if c.rewriteTarget != "" {
		if plan, ok := c.captureRewrite(value); ok {
			c.noteRewrite(rep, Partial, "capture form translated to PathPrefix with URLRewrite ReplacePrefixMatch; ingress-nginx matched the regex case-insensitively, Gateway API matches the prefix exactly")
			return plan, true
		}
		if c.rewriteCapture {
			rep.warn(field, "rewrite-target %q uses capture groups with a path of another form than P(/|$)(.*) or P/(.*): the rewrite is not translated; requests reach the backend with their original path", c.rewriteTarget)
			c.noteRewrite(rep, NotTranslated, "only the capture forms P(/|$)(.*) with T$2 and P/(.*) with T$1 are translated (see the warnings)")
		}
	}
	plan := pathPlan{}
	switch {
	case isRegex:
		re := "(?i)" + strings.TrimPrefix(value, "^") + ".*"
		if _, err := regexp.Compile(re); err != nil {
			rep.warn(field, "regular expression %q is not RE2 syntax (%v): path not migrated; rewrite it by hand", value, err)
			return plan, false
		}
		t := gwv1.PathMatchRegularExpression
		plan.match = gwv1.HTTPPathMatch{Type: &t, Value: &re}
	case p.PathType != nil && *p.PathType == networkingv1.PathTypeExact:
		t := gwv1.PathMatchExact
		plan.match = gwv1.HTTPPathMatch{Type: &t, Value: &value}
	default:
		if (p.PathType == nil || *p.PathType == networkingv1.PathTypeImplementationSpecific) && value != "/" {
			rep.warn(field, "pathType ImplementationSpecific %q becomes PathPrefix: ingress-nginx matched it as a plain string prefix (it also matched %sx), Gateway API matches whole path segments", value, strings.TrimSuffix(value, "/"))
		}
		if regexMode && strings.ContainsAny(value, regexChars) {
			rep.warn(field, "path %q has regular-expression characters but use-regex is off: matched literally", value)
		}
		t := gwv1.PathMatchPathPrefix
		plan.match = gwv1.HTTPPathMatch{Type: &t, Value: &value}
	}
	if c.rewriteTarget != "" && !c.rewriteCapture {
		target := c.rewriteTarget
		plan.rewrite = &gwv1.HTTPPathModifier{Type: gwv1.FullPathHTTPPathModifier, ReplaceFullPath: &target}
		c.noteRewrite(rep, Translated, "URLRewrite ReplaceFullPath %s: like ingress-nginx, every matching request is sent to exactly that path", target)
	}
	return plan, true
}

// captureRewrite recognises the rewrite-target forms that strip a prefix.
func (c *ingressConfig) captureRewrite(value string) (pathPlan, bool) {
	var prefix, group string
	if m := captureSlashOrEnd.FindStringSubmatch(value); m != nil {
		prefix, group = m[1], "$2"
	} else if m := captureAfterSlash.FindStringSubmatch(value); m != nil {
		prefix, group = m[1], "$1"
	} else {
		return pathPlan{}, false
	}
	target, ok := strings.CutSuffix(c.rewriteTarget, group)
	if !ok || strings.Contains(target, "$") || !strings.HasPrefix(target, "/") && target != "" {
		return pathPlan{}, false
	}
	if prefix == "" {
		prefix = "/"
	}
	if target == "" || target == "/" {
		target = "/"
	} else {
		target = strings.TrimSuffix(target, "/")
	}
	t := gwv1.PathMatchPathPrefix
	plan := pathPlan{match: gwv1.HTTPPathMatch{Type: &t, Value: &prefix},
		rewrite: &gwv1.HTTPPathModifier{Type: gwv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: &target}}
	return plan, true
}

// noteRewrite records the rewrite-target outcome once per Ingress; a
// worse outcome replaces a better one.
func (c *ingressConfig) noteRewrite(rep *ObjectReport, out Outcome, format string, args ...any) {
	name := nginxPrefix + "rewrite-target"
	for i, a := range rep.Annotations {
		if a.Name == name {
			if rank(out) > rank(a.Outcome) {
				rep.Annotations[i] = AnnotationResult{Name: name, Outcome: out, Detail: fmt.Sprintf(format, args...)}
			}
			return
		}
	}
	rep.annotation(name, out, format, args...)
}

func rank(o Outcome) int {
	switch o {
	case Translated:
		return 0
	case Partial:
		return 1
	}
	return 2
}
