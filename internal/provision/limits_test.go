package provision

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

func limitPtr[T any](v T) *T { return &v }

func proxyContainerArgs(t *testing.T, r Resources) []string {
	t.Helper()
	for _, c := range r.Deployment.Spec.Template.Spec.Containers {
		if c.Name == ContainerName {
			return c.Args
		}
	}
	t.Fatal("no proxy container")
	return nil
}

// TestLimitsBecomeProxyFlags: spec.limits turns into `gatehouse proxy`
// flags after the controller-wide ProxyArgs (so they win); no limits add
// nothing.
func TestLimitsBecomeProxyFlags(t *testing.T) {
	gw := gateway("web", 80)
	base := proxyContainerArgs(t, Desired(gw, nil, testOptions))
	params := &v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{Limits: &v1alpha1.ProxyLimits{
		MaxHeaderBytes: limitPtr(int32(32768)), MaxHeaderCount: limitPtr(int32(-1)),
		ReadHeaderTimeout: &metav1.Duration{Duration: 5 * time.Second}, IdleTimeout: &metav1.Duration{Duration: time.Minute},
		MinBodyRate: limitPtr(int32(1024)), BodyRateGrace: &metav1.Duration{Duration: 3 * time.Second},
		MaxConcurrentStreams: limitPtr(int32(50)), EscapedSlashes: "reject", KeepDuplicateSlashes: limitPtr(true),
	}}}
	got := proxyContainerArgs(t, Desired(gw, params, testOptions))
	want := append(slices.Clone(base), "--max-header-bytes", "32768", "--max-header-count", "-1",
		"--read-header-timeout", "5s", "--idle-timeout", "1m0s", "--min-body-rate", "1024", "--body-rate-grace", "3s",
		"--max-concurrent-streams", "50", "--escaped-slashes", "reject", "--keep-duplicate-slashes=true")
	if !slices.Equal(got, want) {
		t.Errorf("args\n%q\nwant\n%q", got, want)
	}
	empty := &v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{Limits: &v1alpha1.ProxyLimits{}}}
	if got := proxyContainerArgs(t, Desired(gw, empty, testOptions)); !slices.Equal(got, base) {
		t.Errorf("empty limits changed the args: %q", got)
	}
}

// TestMergeLimits: the Gateway's limits override the class's field by field.
func TestMergeLimits(t *testing.T) {
	class := &v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{Limits: &v1alpha1.ProxyLimits{
		MaxHeaderCount: limitPtr(int32(50)), MinBodyRate: limitPtr(int32(100)), EscapedSlashes: "reject"}}}
	gw := &v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{Limits: &v1alpha1.ProxyLimits{
		MinBodyRate: limitPtr(int32(2000)), KeepDuplicateSlashes: limitPtr(true)}}}
	got := MergeParameters(class, gw).Spec.Limits
	if *got.MaxHeaderCount != 50 || *got.MinBodyRate != 2000 || got.EscapedSlashes != "reject" || !*got.KeepDuplicateSlashes {
		t.Errorf("merged limits %+v", got)
	}
	if *class.Spec.Limits.MinBodyRate != 100 {
		t.Error("MergeParameters modified the class's parameters")
	}
	if l := MergeParameters(nil, gw).Spec.Limits; *l.MinBodyRate != 2000 {
		t.Errorf("gateway only: %+v", l)
	}
}

// TestCRDValidatesLimits runs the GatewayParameters schema over limits.
func TestCRDValidatesLimits(t *testing.T) {
	data, err := json.Marshal(ourCRDs(t)[v1alpha1.GatewayParametersKind].Spec.Versions[0].Schema.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	var s spec.Schema
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	v := validate.NewSchemaValidator(&s, nil, "", strfmt.Default)
	for _, tc := range []struct {
		limits string
		valid  bool
	}{
		{`{maxHeaderBytes: 32768, maxHeaderCount: -1, readHeaderTimeout: 5s, idleTimeout: 1m30s, minBodyRate: 1024,
			bodyRateGrace: 500ms, maxConcurrentStreams: 50, escapedSlashes: unescape, keepDuplicateSlashes: true}`, true},
		{`{}`, true},
		{`{escapedSlashes: drop}`, false},
		{`{readHeaderTimeout: soon}`, false},
		{`{maxConcurrentStreams: 0}`, false},
		{`{maxHeaderBytes: 10}`, false},
		{`{minBodyRate: -2}`, false},
	} {
		var limits any
		if err := yaml.Unmarshal([]byte(tc.limits), &limits); err != nil {
			t.Fatal(err)
		}
		obj := map[string]any{"apiVersion": "gatehouse.dev/v1alpha1", "kind": "GatewayParameters",
			"metadata": map[string]any{"name": "x"}, "spec": map[string]any{"limits": limits}}
		if res := v.Validate(obj); res.IsValid() != tc.valid {
			t.Errorf("limits %s: valid = %v, want %v; %v", tc.limits, res.IsValid(), tc.valid, res.Errors)
		}
	}
}
