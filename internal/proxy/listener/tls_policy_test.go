package listener

import (
	"crypto/tls"
	"slices"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// TestTLSCipherSuitesAndALPN: a TLS 1.2 client offering only non-AEAD (CBC)
// suites is refused; every suite a TLS 1.2 client can
// negotiate is a modern AEAD one; ALPN negotiates h2 or http/1.1 as the
// client offers, and nothing for a client that offers an unknown protocol.
func TestTLSCipherSuitesAndALPN(t *testing.T) {
	certs, _ := sniCerts(t)
	m := newTestManager(t, Options{}, certs)
	mustReconcile(t, m, loopbackBind("tls", ir.ProtocolHTTPS))
	addr := m.Addr("tls").String()
	dial := func(cfg *tls.Config) (*tls.Conn, error) {
		cfg.ServerName, cfg.InsecureSkipVerify = "a.test", true //nolint:gosec // test: the handshake is what is checked
		return tls.Dial("tcp", addr, cfg)
	}
	// The test certificates are ECDSA, so the CBC suites for ECDSA are the
	// ones crypto/tls would pick if the server allowed them.
	weak := [][]uint16{
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
	}
	for _, suites := range weak {
		conn, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: suites})
		if err == nil {
			conn.Close()
			t.Errorf("TLS 1.2 handshake with only %v succeeded", suites)
		}
	}
	for _, suite := range tls.CipherSuites() {
		conn, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite.ID}})
		if err != nil {
			continue // not offered by the server
		}
		got := conn.ConnectionState().CipherSuite
		conn.Close()
		if !slices.Contains(modernCipherSuites, got) {
			t.Errorf("negotiated %s, which is not in the modern list", tls.CipherSuiteName(got))
		}
	}
	for _, tc := range []struct {
		offer []string
		want  string
	}{
		{[]string{"h2", "http/1.1"}, "h2"},
		{[]string{"http/1.1"}, "http/1.1"},
		{nil, ""},
	} {
		conn, err := dial(&tls.Config{NextProtos: tc.offer})
		if err != nil {
			t.Fatalf("ALPN %v: %v", tc.offer, err)
		}
		st := conn.ConnectionState()
		conn.Close()
		if st.NegotiatedProtocol != tc.want || st.Version != tls.VersionTLS13 {
			t.Errorf("ALPN %v: negotiated %q over %x, want %q over TLS 1.3", tc.offer, st.NegotiatedProtocol, st.Version, tc.want)
		}
	}
	// A client that only speaks a protocol the server does not is refused
	// (crypto/tls answers no_application_protocol).
	if conn, err := dial(&tls.Config{NextProtos: []string{"spdy/3"}}); err == nil {
		conn.Close()
		t.Error("a handshake offering only spdy/3 succeeded")
	}
}
