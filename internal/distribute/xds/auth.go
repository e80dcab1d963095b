package xds

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
)

// Authenticator turns a bearer token into an identity.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (identity string, err error)
}

// Authorizer decides whether an authenticated identity may read a Gateway's
// configuration ("namespace/name").
type Authorizer func(identity, gateway string) bool

// ErrUnauthenticated is returned for a missing, unknown or rejected token.
var ErrUnauthenticated = errors.New("unauthenticated")

// ProxyServiceAccountSuffix is appended to a Gateway's name to form the name
// of the ServiceAccount its proxy pods run as.
const ProxyServiceAccountSuffix = "-gatehouse"

// DefaultAuthorizer lets the ServiceAccount the controller provisions for a
// Gateway read that Gateway and nothing else: identity
// "system:serviceaccount:NS:SA" may read gateway "NS/GW" iff
// SA == GW + "-gatehouse". Any other identity (users, other namespaces, other
// service accounts) is refused.
func DefaultAuthorizer(identity, gateway string) bool {
	rest, ok := strings.CutPrefix(identity, "system:serviceaccount:")
	if !ok {
		return false
	}
	saNS, sa, ok := strings.Cut(rest, ":")
	if !ok {
		return false
	}
	gwNS, gw, ok := strings.Cut(gateway, "/")
	if !ok || gwNS == "" || gw == "" {
		return false
	}
	return saNS == gwNS && sa == gw+ProxyServiceAccountSuffix
}

// StaticTokens authenticates tokens from a fixed token → identity map (for
// tests and standalone setups).
type StaticTokens map[string]string

// Authenticate implements Authenticator.
func (s StaticTokens) Authenticate(_ context.Context, token string) (string, error) {
	if id, ok := s[token]; ok && token != "" {
		return id, nil
	}
	return "", ErrUnauthenticated
}

// DefaultAudience is the audience proxies' projected ServiceAccount tokens are
// issued for, and the one TokenReviews ask the API server to check.
const DefaultAudience = "gatehouse"

// TokenReview authenticates Kubernetes ServiceAccount tokens with the API
// server's TokenReview API. Reviews is typically
// clientset.AuthenticationV1().TokenReviews().
type TokenReview struct {
	Reviews authnclient.TokenReviewInterface
	// Audience the token must be bound to; DefaultAudience when empty.
	Audience string
}

// Authenticate implements Authenticator.
func (t *TokenReview) Authenticate(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", ErrUnauthenticated
	}
	aud := t.Audience
	if aud == "" {
		aud = DefaultAudience
	}
	res, err := t.Reviews.Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: []string{aud}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token review: %w", err)
	}
	if !res.Status.Authenticated {
		if res.Status.Error != "" {
			return "", fmt.Errorf("%w: %s", ErrUnauthenticated, res.Status.Error)
		}
		return "", ErrUnauthenticated
	}
	if len(res.Status.Audiences) > 0 && !containsString(res.Status.Audiences, aud) {
		return "", fmt.Errorf("%w: token not issued for audience %q", ErrUnauthenticated, aud)
	}
	return res.Status.User.Username, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
