package translate

import (
	"encoding/base64"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func decodeBase64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCABundleProblem(t *testing.T) {
	crt, _ := testCertificate(t)
	pemText := decodeBase64(t, crt)
	cm := func(data map[string]string) *corev1.ConfigMap { return &corev1.ConfigMap{Data: data} }
	cases := []struct {
		name  string
		cm    *corev1.ConfigMap
		found bool
		want  string
	}{
		{"valid", cm(map[string]string{"ca.crt": pemText}), true, ""},
		{"valid among other PEM blocks", cm(map[string]string{"ca.crt": "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n" + pemText}), true, ""},
		{"missing", nil, false, "not found"},
		{"no key", cm(map[string]string{"tls.crt": pemText}), true, "has no key ca.crt"},
		{"empty", cm(map[string]string{"ca.crt": ""}), true, "holds no PEM certificate"},
		{"garbage DER", cm(map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}), true, "invalid certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := caBundleProblem(tc.cm, tc.found)
			if (tc.want == "" && got != "") || !strings.Contains(got, tc.want) {
				t.Fatalf("caBundleProblem = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGRPCMethodPath(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		service, method *string
		regex           bool
		wantType, want  string
		wantErr         bool
	}{
		{s("pkg.Svc"), s("Get"), false, "Exact", "/pkg.Svc/Get", false},
		{s("pkg.Svc"), nil, false, "PathPrefix", "/pkg.Svc/", false},
		{nil, s("Get"), false, "RegularExpression", "/[^/]+/Get", false},
		{s("pkg\\..*"), nil, true, "RegularExpression", "/(?:pkg\\..*)/(?:[^/]+)", false},
		{nil, nil, false, "", "", true},
		{s("a/b"), nil, false, "", "", true},
		{s("("), nil, true, "", "", true},
	}
	for i, tc := range cases {
		m := grpcMethodMatch(tc.service, tc.method, tc.regex)
		got, err := grpcMethodPath(m)
		if (err != nil) != tc.wantErr || (err == nil && (string(got.Type) != tc.wantType || got.Value != tc.want)) {
			t.Errorf("case %d: got %+v, %v; want %s %q (error %v)", i, got, err, tc.wantType, tc.want, tc.wantErr)
		}
	}
}

func grpcMethodMatch(service, method *string, regex bool) *gwv1.GRPCMethodMatch {
	typ := gwv1.GRPCMethodMatchExact
	if regex {
		typ = gwv1.GRPCMethodMatchRegularExpression
	}
	return &gwv1.GRPCMethodMatch{Type: &typ, Service: service, Method: method}
}
