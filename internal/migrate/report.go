package migrate

import (
	"fmt"
	"io"
	"strings"
)

// Report says what a migration did with every input object and annotation.
// Nothing is dropped silently: each annotation of each Ingress appears with
// its outcome.
type Report struct {
	Summary Summary `json:"summary"`
	// Objects has one entry per Ingress, in input order (namespace/name).
	Objects []ObjectReport `json:"objects"`
	// Warnings concern the migration as a whole (hostnames shared across
	// namespaces, catch-all listeners, ...).
	Warnings []string `json:"warnings,omitempty"`
	// SkippedInput lists input objects that are neither Ingresses nor
	// Services.
	SkippedInput []string `json:"skippedInput,omitempty"`
}

// Summary counts what was read and written.
type Summary struct {
	Ingresses          int `json:"ingresses"`
	Migrated           int `json:"migrated"`
	Skipped            int `json:"skipped"`
	ListenerSets       int `json:"listenerSets"`
	HTTPRoutes         int `json:"httpRoutes"`
	TrafficPolicies    int `json:"trafficPolicies"`
	BackendTLSPolicies int `json:"backendTLSPolicies"`
	// NotTranslated counts annotations that were not (or only partly)
	// translated, unsafe ones included.
	NotTranslated int `json:"notTranslated"`
	Warnings      int `json:"warnings"`
}

// ObjectReport is what happened to one Ingress.
type ObjectReport struct {
	// Object is "Ingress namespace/name".
	Object string `json:"object"`
	// Skipped says why the Ingress was not migrated at all.
	Skipped string `json:"skipped,omitempty"`
	// Outputs are the objects it contributed to ("Kind namespace/name").
	Outputs     []string           `json:"outputs,omitempty"`
	Annotations []AnnotationResult `json:"annotations,omitempty"`
	Warnings    []Finding          `json:"warnings,omitempty"`
}

// Outcome of one annotation.
type Outcome string

// Outcomes, from best to worst.
const (
	// Translated: the behaviour is expressed in the output.
	Translated Outcome = "Translated"
	// Partial: expressed with a difference, or it needs an action outside
	// the output (the detail says which).
	Partial Outcome = "Partial"
	// NotTranslated: no equivalent; the behaviour is lost.
	NotTranslated Outcome = "NotTranslated"
	// Unsafe: raw nginx configuration, never translated.
	Unsafe Outcome = "Unsafe"
	// Ignored: not an ingress-nginx annotation (listed so nothing is
	// silently dropped), or one that has no effect here.
	Ignored Outcome = "Ignored"
)

// AnnotationResult is the outcome of one annotation of one object.
type AnnotationResult struct {
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail"`
}

// Finding is a warning about one field of an object.
type Finding struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (o *ObjectReport) annotation(name string, out Outcome, format string, args ...any) {
	o.Annotations = append(o.Annotations, AnnotationResult{Name: name, Outcome: out, Detail: fmt.Sprintf(format, args...)})
}

func (o *ObjectReport) warn(field, format string, args ...any) {
	o.Warnings = append(o.Warnings, Finding{Field: field, Message: fmt.Sprintf(format, args...)})
}

// WriteText writes the report for people: one line per annotation that was
// not fully translated and per warning, then the summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, o := range r.Objects {
		if o.Skipped != "" {
			fmt.Fprintf(&b, "%s: skipped: %s\n", o.Object, o.Skipped)
			continue
		}
		for _, a := range o.Annotations {
			if a.Outcome != Translated {
				fmt.Fprintf(&b, "%s: %s %s: %s\n", o.Object, a.Name, a.Outcome, a.Detail)
			}
		}
		for _, f := range o.Warnings {
			if f.Field != "" {
				fmt.Fprintf(&b, "%s: %s: %s\n", o.Object, f.Field, f.Message)
			} else {
				fmt.Fprintf(&b, "%s: %s\n", o.Object, f.Message)
			}
		}
	}
	for _, wmsg := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", wmsg)
	}
	s := r.Summary
	fmt.Fprintf(&b, "migrated %d of %d Ingresses (%d skipped) into 1 Gateway, %d ListenerSets, %d HTTPRoutes, %d TrafficPolicies, %d BackendTLSPolicies; %d annotations not fully translated, %d warnings\n",
		s.Migrated, s.Ingresses, s.Skipped, s.ListenerSets, s.HTTPRoutes, s.TrafficPolicies, s.BackendTLSPolicies, s.NotTranslated, s.Warnings)
	_, err := io.WriteString(w, b.String())
	return err
}
