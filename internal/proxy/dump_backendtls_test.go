package proxy

import (
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// A backend's TLS client key is a credential: the config dump leaves it out
// (and does not change what the proxy serves).
func TestConfigDumpOmitsUpstreamClientKey(t *testing.T) {
	p, _ := testProxy(t)
	b := upstreamBackend(t, "secure")
	b.TLS = &ir.UpstreamTLS{ServerName: "secure.internal", Invalid: "test: refuse connections",
		ClientCertPEM: []byte("client-cert"), ClientKeyPEM: []byte("client-key")}
	if rej := p.Apply(ir.Delta{Version: 2, Upserts: []ir.Resource{b}}); len(rej) != 0 {
		t.Fatalf("rejections: %v", rej)
	}
	for _, e := range p.ConfigDump().Resources {
		got, ok := e.Resource.(*ir.Backend)
		if !ok || got.Name != "secure" {
			continue
		}
		if got.TLS == nil || len(got.TLS.ClientKeyPEM) != 0 || string(got.TLS.ClientCertPEM) != "client-cert" {
			t.Fatalf("dumped TLS = %+v, want the certificate without the key", got.TLS)
		}
		if string(b.TLS.ClientKeyPEM) != "client-key" {
			t.Fatal("the dump modified the served backend")
		}
		return
	}
	t.Fatal("backend missing from the dump")
}
