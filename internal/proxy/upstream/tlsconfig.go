package upstream

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/internal/ir"
)

// newUpstreamTLSConfig builds the client TLS configuration for a backend:
//
//   - roots: the PEM CA bundle when given, else the system roots;
//   - identity: ServerName is the SNI and, without SubjectAltNames, the name
//     verified; with SubjectAltNames the certificate must carry one of them
//     (DNS names with the usual wildcard rules, URIs exactly) and ServerName
//     is not used for authentication (BackendTLSPolicy semantics);
//   - a client certificate when ClientCertPEM/ClientKeyPEM are set;
//   - Invalid: every handshake fails, so requests get a 5xx rather than
//     reaching a backend whose verification could not be configured.
//
// Errors name the field and say how to fix it.
func newUpstreamTLSConfig(cfg ir.UpstreamTLS) (*tls.Config, error) {
	tc := &tls.Config{
		ServerName:         cfg.ServerName,
		InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // explicit user choice, documented as development only
		MinVersion:         tls.VersionTLS12,
	}
	if cfg.Invalid != "" {
		reason := cfg.Invalid
		tc.InsecureSkipVerify = true //nolint:gosec // every connection is refused below
		tc.VerifyConnection = func(tls.ConnectionState) error {
			return fmt.Errorf("upstream TLS is invalid: %s", reason)
		}
		return tc, nil
	}
	if len(cfg.CACertPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CACertPEM) {
			return nil, errors.New("tls.caCertPEM: no PEM certificate could be parsed; provide PEM-encoded CA certificates")
		}
		tc.RootCAs = pool
	}
	if len(cfg.ClientCertPEM) > 0 || len(cfg.ClientKeyPEM) > 0 {
		cert, err := tls.X509KeyPair(cfg.ClientCertPEM, cfg.ClientKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("tls.clientCertPEM/clientKeyPEM: %v; provide a PEM certificate chain and its private key", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if len(cfg.SubjectAltNames) > 0 && !cfg.InsecureSkipVerify {
		for i, san := range cfg.SubjectAltNames {
			if san.Value == "" || (san.Type != ir.SANHostname && san.Type != ir.SANURI) {
				return nil, fmt.Errorf("tls.subjectAltNames[%d]: type %q with value %q is not valid; use Hostname or URI with a value", i, san.Type, san.Value)
			}
		}
		// The standard verification checks the chain and ServerName; here
		// the chain is checked the same way but the name against the SANs.
		roots, sans := tc.RootCAs, slices.Clone(cfg.SubjectAltNames)
		tc.InsecureSkipVerify = true //nolint:gosec // verification is done in VerifyConnection
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyBackendSANs(cs, roots, sans)
		}
	}
	return tc, nil
}

// verifyBackendSANs verifies the peer's chain against roots (nil: system
// roots) and requires one of sans in its leaf certificate.
func verifyBackendSANs(cs tls.ConnectionState, roots *x509.CertPool, sans []ir.SubjectAltName) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("backend presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return err
	}
	for _, san := range sans {
		switch san.Type {
		case ir.SANHostname:
			if leaf.VerifyHostname(san.Value) == nil {
				return nil
			}
		case ir.SANURI:
			for _, u := range leaf.URIs {
				if u.String() == san.Value {
					return nil
				}
			}
		}
	}
	want := make([]string, 0, len(sans))
	for _, s := range sans {
		want = append(want, string(s.Type)+" "+s.Value)
	}
	return fmt.Errorf("backend certificate matches none of the subjectAltNames [%s]", strings.Join(want, ", "))
}

// sameUpstreamTLS reports whether two TLS settings build the same
// configuration, so transports (and their pooled connections) are reused.
func sameUpstreamTLS(a, b *ir.UpstreamTLS) bool {
	return a.ServerName == b.ServerName &&
		a.InsecureSkipVerify == b.InsecureSkipVerify &&
		a.Invalid == b.Invalid &&
		bytes.Equal(a.CACertPEM, b.CACertPEM) &&
		bytes.Equal(a.ClientCertPEM, b.ClientCertPEM) &&
		bytes.Equal(a.ClientKeyPEM, b.ClientKeyPEM) &&
		slices.Equal(a.SubjectAltNames, b.SubjectAltNames)
}
