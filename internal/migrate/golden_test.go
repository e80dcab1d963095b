package migrate

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/testkit"
	"gatehouse.dev/gatehouse/internal/translate"
)

// goldenMarker separates a golden file's input from its expected output.
const goldenMarker = "# ==== expected output (REFRESH_GOLDEN=1 rewrites below) ====\n"

// reportMarker separates the generated YAML from the report in the output.
const reportMarker = "# ==== report ====\n"

// migrateCase runs the migration of a golden file's input.
func migrateCase(t *testing.T, name string, input []byte) (Input, *Result, []byte) {
	t.Helper()
	in, problems := DecodeInput(name, input)
	if len(problems) > 0 {
		t.Fatalf("input problems: %v", problems)
	}
	res, rep, err := Migrate(in, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := RenderYAML(res.Objects())
	if err != nil {
		t.Fatal(err)
	}
	r, err := yaml.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return in, res, append(append(objs, reportMarker...), r...)
}

// TestGolden migrates each testdata/golden/*.yaml input and compares the
// generated objects and the report with the expected output.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	if len(files) < 10 {
		t.Fatalf("want a corpus of at least 10 cases, found %d", len(files))
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			input, want, found := bytes.Cut(data, []byte(goldenMarker))
			_, _, got := migrateCase(t, filepath.Base(path), input)
			if os.Getenv("REFRESH_GOLDEN") != "" {
				out := append(append(append([]byte(nil), input...), goldenMarker...), got...)
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !found {
				t.Fatalf("%s has no expected output; run with REFRESH_GOLDEN=1", path)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: output differs from golden (REFRESH_GOLDEN=1 to accept)\n%s", path, testkit.LineDiff(string(want), string(got)))
			}
		})
	}
}

// TestGoldenOutputsTranslate checks that every corpus case's output is
// valid Gatehouse config: it decodes through the file source without
// problems and translates with no object rejected, given the GatewayClass,
// the input's Services and a certificate for every referenced TLS Secret.
func TestGoldenOutputsTranslate(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	crt, key := selfSigned(t)
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			input, _, _ := bytes.Cut(data, []byte(goldenMarker))
			in, res, _ := migrateCase(t, filepath.Base(path), input)
			out, err := RenderYAML(res.Objects())
			if err != nil {
				t.Fatal(err)
			}
			events := decodeEvents(t, "migrated.yaml", out)
			extra := "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gatehouse}\nspec: {controllerName: " + translate.DefaultControllerName + "}\n"
			for _, s := range in.Services {
				b, err := yaml.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				extra += "---\n" + string(b)
			}
			for _, ns := range res.Namespaces {
				for _, ls := range ns.ListenerSets {
					for _, l := range ls.Spec.Listeners {
						if l.TLS != nil {
							extra += fmt.Sprintf("---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ntype: kubernetes.io/tls\ndata: {tls.crt: %s, tls.key: %s}\n",
								l.TLS.CertificateRefs[0].Name, ls.Namespace, crt, key)
						}
					}
				}
			}
			events = append(events, decodeEvents(t, "extra.yaml", []byte(extra))...)
			tr := translate.New(translate.DefaultControllerName)
			tr.Apply(events)
			for _, st := range tr.Snapshot().Status {
				if st.Rejected() {
					b, _ := yaml.Marshal(st)
					t.Errorf("translated output has a rejected object:\n%s", b)
				}
			}
		})
	}
}

func decodeEvents(t *testing.T, name string, data []byte) []source.Event {
	t.Helper()
	objs, problems := file.Decode(name, data)
	for _, p := range problems {
		t.Errorf("%s: file source problem: %+v", name, p)
	}
	events := make([]source.Event, 0, len(objs))
	for i, o := range objs {
		// Distinct creation times keep ListenerSet precedence stable.
		o.SetCreationTimestamp(metav1Time(i))
		events = append(events, source.Event{Kind: o.GetObjectKind().GroupVersionKind().Kind,
			Namespace: o.GetNamespace(), Name: o.GetName(), Object: o})
	}
	return events
}

// selfSigned returns a base64 PEM certificate and key for Secrets.
func selfSigned(t *testing.T) (crt, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.com"},
		DNSNames: []string{"*.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, b []byte) string {
		out, _ := yaml.Marshal(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}))
		return strings.TrimSpace(string(out))
	}
	return enc("CERTIFICATE", der), enc("EC PRIVATE KEY", kd)
}

func metav1Time(i int) metav1.Time {
	return metav1.NewTime(time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC))
}
