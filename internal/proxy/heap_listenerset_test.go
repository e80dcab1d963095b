package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strconv"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// BenchmarkProxyHeapListenerSets reports the live heap a proxy holds for
// the ListenerSet scale case of the design targets: sets HTTPS listeners on
// one socket, each with its own certificate and backend and 16 routes (the
// IR a proxy receives for one Gateway with that many ListenerSets). The IR
// passed in is dropped afterwards, as a proxy drops decoded messages.
func BenchmarkProxyHeapListenerSets(b *testing.B) {
	const routesPerSet = 16
	for _, sets := range []int{250, 2500} {
		b.Run("sets="+strconv.Itoa(sets)+"/routes="+strconv.Itoa(sets*routesPerSet), func(b *testing.B) {
			certs := make([][2][]byte, sets)
			for i := range certs {
				certs[i][0], certs[i][1] = pemPair(b, "t"+strconv.Itoa(i)+".example.com")
			}
			for n := 0; n < b.N; n++ {
				before := heapInUse()
				p := New(Options{Logger: quietLogger()})
				res := []ir.Resource{&ir.Bind{Name: ":0", Port: 0, Protocol: ir.ProtocolHTTPS}}
				for i := 0; i < sets; i++ {
					set := "t" + strconv.Itoa(i)
					l := &ir.Listener{Name: "gw/" + set + "/https", Gateway: "ns/gw", Bind: ":0", Protocol: ir.ProtocolHTTPS,
						Hostname: set + ".example.com", Certificates: []string{set + "/cert"}}
					be := &ir.Backend{Name: "StaticBackend/" + set + "/up", Ports: []ir.BackendPort{{Port: 80, Protocol: ir.AppHTTP1,
						Endpoints: []ir.Endpoint{{Address: "10.0.0.1", Port: 8080, Ready: true}}}}}
					res = append(res, l, be, &ir.Certificate{Name: set + "/cert", CertPEM: certs[i][0], KeyPEM: certs[i][1]})
					for r := 0; r < routesPerSet; r++ {
						name := set + "/r" + strconv.Itoa(r)
						route := routeTo(name, "/r"+strconv.Itoa(r), be.Name)
						route.Parents[0].Listener = l.Name
						res = append(res, route)
					}
				}
				p.Apply(ir.Delta{Version: 1, Upserts: res})
				res = nil
				after := heapInUse()
				b.ReportMetric(float64(after-before)/(1<<20), "heap-MB")
				if got := p.table.Load().Len(); got != sets*routesPerSet {
					b.Fatalf("table has %d routes", got)
				}
			}
		})
	}
}

func pemPair(b *testing.B, host string) ([]byte, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}
