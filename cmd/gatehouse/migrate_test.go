package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"gatehouse.dev/gatehouse/internal/migrate"
)

func runRoot(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := rootCommand()
	var out, errb bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	err = root.Execute()
	return out.String(), errb.String(), err
}

const migrateInput = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: team-a
  annotations: {nginx.ingress.kubernetes.io/configuration-snippet: "return 200;"}
spec:
  tls: [{hosts: [a.example.com], secretName: a-tls}]
  rules:
  - host: a.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`

func TestMigrateCommandToDirectory(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(filepath.Join(in, "nested"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "nested", "web.yaml"), []byte(migrateInput), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	reportFile := filepath.Join(dir, "report.json")
	stdout, stderr, err := runRoot(t, "", "migrate", "-f", in, "-o", out, "--report", reportFile, "--gateway-namespace", "infra")
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	if stdout != "" {
		t.Errorf("with -o, stdout should be empty, got %q", stdout)
	}
	for _, f := range []string{"platform.yaml", "team-a.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	platform, _ := os.ReadFile(filepath.Join(out, "platform.yaml"))
	if !strings.Contains(string(platform), "namespace: infra") {
		t.Errorf("--gateway-namespace not applied:\n%s", platform)
	}
	if !strings.Contains(stderr, "configuration-snippet Unsafe") {
		t.Errorf("stderr does not report the snippet:\n%s", stderr)
	}
	var rep migrate.Report
	data, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil || rep.Summary.Migrated != 1 || rep.Summary.NotTranslated != 1 {
		t.Errorf("report %s: %+v %v", data, rep.Summary, err)
	}
}

func TestMigrateCommandStdin(t *testing.T) {
	stdout, _, err := runRoot(t, migrateInput, "migrate", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: Gateway", "kind: ListenerSet", "kind: HTTPRoute", "sectionName: https-a.example.com"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

func TestMigrateCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "-f", bad}, `bad.yaml: document 1: Ingress "old" has apiVersion "extensions/v1beta1"`},
		{[]string{"migrate", "-f", bad, "-n", "x"}, "use one or the other"},
		{[]string{"migrate", "-f", "-", "--https-port", "80"}, "use two different ports"},
		{[]string{"migrate", "-f", filepath.Join(t.TempDir(), "missing")}, "no such file"},
	}
	for _, c := range cases {
		stdout, _, err := runRoot(t, "", c.args...)
		var ee *exitError
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
		if errors.As(err, &ee) && ee.code != 2 {
			t.Errorf("%v: exit code %d, want 2", c.args, ee.code)
		}
		if stdout != "" {
			t.Errorf("%v: wrote output despite the error:\n%s", c.args, stdout)
		}
	}
}

// TestListMigrateInput reads Ingresses and Services of one namespace, or of
// all, from a cluster's API (a fake clientset here).
func TestListMigrateInput(t *testing.T) {
	cs := fake.NewClientset(
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "team-a"}},
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "team-b"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a"}},
	)
	in, err := listMigrateInput(context.Background(), cs, "team-a")
	if err != nil || len(in.Ingresses) != 1 || in.Ingresses[0].Name != "a" || len(in.Services) != 1 {
		t.Fatalf("namespace team-a: %d Ingresses, %d Services, %v", len(in.Ingresses), len(in.Services), err)
	}
	in, err = listMigrateInput(context.Background(), cs, metav1.NamespaceAll)
	if err != nil || len(in.Ingresses) != 2 {
		t.Fatalf("all namespaces: %d Ingresses, %v", len(in.Ingresses), err)
	}
}
