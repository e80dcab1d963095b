package distribute

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/translate"
)

// tlsSecretYAML is a kubernetes.io/tls Secret with a fresh self-signed
// certificate.
func tlsSecretYAML(t *testing.T, ns, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name + ".example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	enc := func(typ string, b []byte) string {
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}))
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ntype: kubernetes.io/tls\ndata: {tls.crt: %s, tls.key: %s}\n",
		name, ns, enc("CERTIFICATE", der), enc("EC PRIVATE KEY", kd))
}

// TestProxyReceivesOnlyItsGatewayAndSecrets translates two Gateways in two
// namespaces, each with an HTTPS listener on its own Secret, routes and
// backends of its own, plus Secrets no listener uses, and checks what each
// Gateway's subscription (what its proxy receives) holds: its own
// listeners, routes, backends and only the certificates of Secrets its
// listeners reference; nothing of the other Gateway. A Secret rotation or a
// route change of one Gateway never reaches the other's subscription.
func TestProxyReceivesOnlyItsGatewayAndSecrets(t *testing.T) {
	gateway := func(ns, secret string) string {
		return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: %[1]s}
spec:
  gatewayClassName: gatehouse
  listeners:
  - {name: https, port: 443, protocol: HTTPS, hostname: "*.%[1]s.example.com", tls: {certificateRefs: [{name: %[2]s}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: %[1]s}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: svc, port: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: %[1]s}
spec: {ports: [{port: 80}]}
`, ns, secret)
	}
	docs := []string{
		"apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gatehouse}\nspec: {controllerName: gatehouse.dev/gateway-controller}\n",
		gateway("team-a", "cert-a"), gateway("team-b", "cert-b"),
		tlsSecretYAML(t, "team-a", "cert-a"), tlsSecretYAML(t, "team-b", "cert-b"),
		tlsSecretYAML(t, "team-a", "unused-a"), tlsSecretYAML(t, "team-b", "unused-b"),
	}
	tr := translate.New(translate.DefaultControllerName)
	hub := NewHub()
	tr.OnIR(func(c translate.IRChange) { hub.Publish(c.Upserts, c.Removes) })
	tr.Apply(decodeEvents(t, strings.Join(docs, "---\n")))
	subA, subB := hub.SubscribeGateway("team-a/gw"), hub.SubscribeGateway("team-b/gw")
	defer subA.Close()
	defer subB.Close()

	names := func(d ir.Delta) []string {
		var out []string
		for _, r := range d.Upserts {
			out = append(out, r.ResourceID().String())
		}
		sort.Strings(out)
		return out
	}
	for _, tc := range []struct {
		sub        *Subscription
		own, other string
	}{{subA, "team-a", "team-b"}, {subB, "team-b", "team-a"}} {
		got := names(nextDelta(t, tc.sub))
		var certs, listeners, routes, backends int
		for _, id := range got {
			if strings.Contains(id, tc.other) {
				t.Errorf("%s's proxy receives %s of the other Gateway", tc.own, id)
			}
			if strings.Contains(id, "unused") {
				t.Errorf("%s's proxy receives %s, a Secret no listener uses", tc.own, id)
			}
			switch {
			case strings.HasPrefix(id, string(ir.KindCertificate)):
				certs++
			case strings.HasPrefix(id, string(ir.KindListener)):
				listeners++
			case strings.HasPrefix(id, string(ir.KindRoute)):
				routes++
			case strings.HasPrefix(id, string(ir.KindBackend)):
				backends++
			}
		}
		if certs != 1 || listeners != 1 || routes != 1 || backends != 1 {
			t.Errorf("%s's proxy receives %v; want its own listener, certificate, route and backend", tc.own, got)
		}
	}

	// Team b rotates its Secret and changes its route: team a's proxy
	// receives nothing, team b's receives exactly those changes.
	tr.Apply(decodeEvents(t, tlsSecretYAML(t, "team-b", "cert-b")+"---\n"+tlsSecretYAML(t, "team-b", "unused-b")+
		"---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: app, namespace: team-b}\n"+
		"spec:\n  parentRefs: [{name: gw}]\n  rules: [{matches: [{path: {type: PathPrefix, value: /v2}}], backendRefs: [{name: svc, port: 80}]}]\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if d, err := subA.Next(ctx); err == nil {
		t.Errorf("team-a's proxy received team-b's changes: %v %v", names(d), d.Removes)
	}
	got := names(nextDelta(t, subB))
	for _, id := range got {
		if strings.Contains(id, "team-a") || strings.Contains(id, "unused") {
			t.Errorf("team-b's proxy received %s", id)
		}
	}
	if len(got) != 2 {
		t.Errorf("team-b's proxy received %v; want its rotated certificate and changed route", got)
	}
}

func decodeEvents(t *testing.T, yaml string) []source.Event {
	t.Helper()
	objs, problems := file.Decode("isolation.yaml", []byte(yaml))
	if len(problems) > 0 {
		t.Fatalf("decode: %v", problems)
	}
	var events []source.Event
	for _, o := range objs {
		events = append(events, source.Event{Kind: o.GetObjectKind().GroupVersionKind().Kind,
			Namespace: o.GetNamespace(), Name: o.GetName(), Object: o})
	}
	return events
}
