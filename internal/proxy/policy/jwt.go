package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Signature algorithms accepted for tokens (no "none", no HMAC: a shared
// secret does not belong in a key set the gateway fetches).
var jwtAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

const (
	jwksRefresh      = 5 * time.Minute
	jwksMissCooldown = 10 * time.Second
	clockLeeway      = 30 * time.Second
)

// jwtVerifier checks bearer tokens against one policy's key set.
type jwtVerifier struct {
	cfg    *ir.PolicyJWT
	client *http.Client

	mu        sync.Mutex
	keys      *jose.JSONWebKeySet
	fetchedAt time.Time
}

func newJWTVerifier(cfg *ir.PolicyJWT) (*jwtVerifier, error) {
	v := &jwtVerifier{cfg: cfg, client: &http.Client{Timeout: 5 * time.Second}}
	if cfg.Invalid != "" || cfg.JWKSInline == "" {
		return v, nil
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(cfg.JWKSInline), &set); err != nil {
		return nil, fmt.Errorf("jwt: inline key set: %w", err)
	}
	v.keys = &set
	return v, nil
}

// errNoToken is returned when the request carries no bearer token.
var errNoToken = errors.New("missing bearer token")

// verify returns the claims of the request's valid bearer token.
func (v *jwtVerifier) verify(ctx context.Context, r *http.Request) (map[string]any, error) {
	if v.cfg.Invalid != "" {
		return nil, fmt.Errorf("the policy's key set is invalid: %s", v.cfg.Invalid)
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return nil, errNoToken
	}
	tok, err := jwt.ParseSigned(raw, jwtAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	keys, err := v.keysFor(ctx, kid)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		var std jwt.Claims
		all := map[string]any{}
		if tok.Claims(k.Key, &std, &all) != nil {
			continue
		}
		exp := jwt.Expected{Issuer: v.cfg.Issuer, AnyAudience: v.cfg.Audiences, Time: time.Now()}
		if err := std.ValidateWithLeeway(exp, clockLeeway); err != nil {
			return nil, fmt.Errorf("token rejected: %w", err)
		}
		return all, nil
	}
	return nil, errors.New("token signature does not verify with any key")
}

// keysFor returns the keys to try for kid (all keys when kid is empty),
// fetching or refreshing a URL key set when needed.
func (v *jwtVerifier) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cfg.JWKSURL != "" {
		stale := time.Since(v.fetchedAt) > jwksRefresh
		miss := v.keys != nil && kid != "" && len(v.keys.Key(kid)) == 0 && time.Since(v.fetchedAt) > jwksMissCooldown
		if v.keys == nil || stale || miss {
			if err := v.fetch(ctx); err != nil && v.keys == nil {
				return nil, err
			}
		}
	}
	if v.keys == nil {
		return nil, errors.New("no keys")
	}
	if kid == "" {
		return v.keys.Keys, nil
	}
	keys := v.keys.Key(kid)
	if len(keys) == 0 {
		return nil, fmt.Errorf("no key with id %q", kid)
	}
	return keys, nil
}

// fetch loads the key set from the URL; on failure the previous set stays.
func (v *jwtVerifier) fetch(ctx context.Context) error {
	v.fetchedAt = time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch key set: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("key set: %w", err)
	}
	v.keys = &set
	return nil
}

// Authenticate applies the most specific JWT policy. It returns the claims
// (nil when no policy applies or an optional token is absent), or ok=false
// with the reason when the request must be refused with 401.
func (a Applicable) Authenticate(r *http.Request) (claims map[string]any, reason string, ok bool) {
	for i := len(a) - 1; i >= 0; i-- {
		v := a[i].jwt
		if v == nil {
			continue
		}
		claims, err := v.verify(r.Context(), r)
		switch {
		case err == nil:
			return claims, "", true
		case errors.Is(err, errNoToken) && v.cfg.Optional:
			return nil, "", true
		default:
			return nil, err.Error(), false
		}
	}
	return nil, "", true
}
