package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"gatehouse.dev/gatehouse/internal/ir"
)

// testIssuer signs tokens with an EC key and publishes its public key set.
type testIssuer struct {
	signer jose.Signer
	jwks   string
}

func newTestIssuer(t *testing.T, kid string) *testIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}}}
	b, _ := json.Marshal(set)
	return &testIssuer{signer: signer, jwks: string(b)}
}

func (i *testIssuer) token(t *testing.T, iss, sub string, aud []string, exp time.Time) string {
	t.Helper()
	s, err := jwt.Signed(i.signer).Claims(jwt.Claims{Issuer: iss, Subject: sub, Audience: aud, Expiry: jwt.NewNumericDate(exp)}).
		Claims(map[string]any{"role": "admin"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func requestWith(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func verifierFor(t *testing.T, cfg *ir.PolicyJWT) Applicable {
	t.Helper()
	set, rej := Empty.Update([]*ir.Policy{{Name: "ns/jwt", JWT: cfg, Targets: []ir.PolicyTarget{{Kind: ir.TargetGateway, Name: "ns/gw"}}}}, nil)
	if len(rej) != 0 {
		t.Fatalf("rejections: %v", rej)
	}
	return set.ForRequest("ns/gw", "", "", "", nil)
}

func TestJWTInlineKeySet(t *testing.T) {
	iss := newTestIssuer(t, "k1")
	a := verifierFor(t, &ir.PolicyJWT{Issuer: "https://issuer.example", Audiences: []string{"api"}, JWKSInline: iss.jwks})
	good := iss.token(t, "https://issuer.example", "alice", []string{"api"}, time.Now().Add(time.Hour))
	claims, reason, ok := a.Authenticate(requestWith(good))
	if !ok || claims["sub"] != "alice" || claims["role"] != "admin" {
		t.Fatalf("valid token: ok=%v reason=%q claims=%v", ok, reason, claims)
	}
	for name, tok := range map[string]string{
		"missing":        "",
		"wrong issuer":   iss.token(t, "https://evil.example", "alice", []string{"api"}, time.Now().Add(time.Hour)),
		"wrong audience": iss.token(t, "https://issuer.example", "alice", []string{"other"}, time.Now().Add(time.Hour)),
		"expired":        iss.token(t, "https://issuer.example", "alice", []string{"api"}, time.Now().Add(-time.Hour)),
		"other key":      newTestIssuer(t, "k1").token(t, "https://issuer.example", "alice", []string{"api"}, time.Now().Add(time.Hour)),
		"garbage":        "not.a.token",
	} {
		if _, reason, ok := a.Authenticate(requestWith(tok)); ok || reason == "" {
			t.Errorf("%s: accepted (reason %q)", name, reason)
		}
	}
}

func TestJWTOptionalAndInvalid(t *testing.T) {
	iss := newTestIssuer(t, "k1")
	opt := verifierFor(t, &ir.PolicyJWT{JWKSInline: iss.jwks, Optional: true})
	if claims, _, ok := opt.Authenticate(requestWith("")); !ok || claims != nil {
		t.Errorf("optional without a token: ok=%v claims=%v", ok, claims)
	}
	if _, _, ok := opt.Authenticate(requestWith("not.a.token")); ok {
		t.Errorf("optional with a bad token must still refuse")
	}
	broken := verifierFor(t, &ir.PolicyJWT{Invalid: "inline is not a JSON Web Key Set"})
	good := iss.token(t, "", "alice", nil, time.Now().Add(time.Hour))
	if _, reason, ok := broken.Authenticate(requestWith(good)); ok || !strings.Contains(reason, "invalid") {
		t.Errorf("invalid key set must fail closed: ok=%v reason=%q", ok, reason)
	}
}

func TestJWTKeySetFromURL(t *testing.T) {
	iss := newTestIssuer(t, "k1")
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches++
		_, _ = w.Write([]byte(iss.jwks))
	}))
	defer srv.Close()
	a := verifierFor(t, &ir.PolicyJWT{JWKSURL: srv.URL})
	tok := iss.token(t, "", "bob", nil, time.Now().Add(time.Hour))
	for i := 0; i < 5; i++ {
		if claims, reason, ok := a.Authenticate(requestWith(tok)); !ok || claims["sub"] != "bob" {
			t.Fatalf("token verified against fetched keys: ok=%v reason=%q", ok, reason)
		}
	}
	if fetches != 1 {
		t.Errorf("key set fetched %d times, want 1 (cached)", fetches)
	}
}
