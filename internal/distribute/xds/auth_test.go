package xds

import (
	"context"
	"errors"
	"os"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/distribute/wire"
	"gatehouse.dev/gatehouse/internal/ir"
)

func anypbFor(t testing.TB, r ir.Resource) (*anypb.Any, error) {
	t.Helper()
	a, err := wire.ToProto(r)
	if err != nil {
		t.Fatal(err)
	}
	return a, nil
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// openStream opens a raw stream with an optional token and returns the code
// the server ends it with.
func openStream(t *testing.T, addr, token, gateway string) codes.Code {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return status.Code(err)
	}
	_ = s.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: StreamTypeURL, Node: &corev3.Node{Id: "p",
		Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{GatewayMetadataKey: structpb.NewStringValue(gateway)}}}})
	_, err = s.Recv()
	return status.Code(err)
}

func TestStreamAuthentication(t *testing.T) {
	hub := distribute.NewHub()
	srv := startServer(t, hub, "", nil)
	cases := []struct {
		name, token, gateway string
		want                 codes.Code
	}{
		{"no token", "", "ns/a", codes.Unauthenticated},
		{"unknown token", "forged", "ns/a", codes.Unauthenticated},
		{"other gateway", "tok-a", "ns/b", codes.PermissionDenied},
		{"same name other namespace", "tok-other", "ns/a", codes.PermissionDenied},
		{"malformed gateway", "tok-a", "a", codes.InvalidArgument},
		{"allowed", "tok-a", "ns/a", codes.OK},
	}
	for _, c := range cases {
		if got := openStream(t, srv.addr, c.token, c.gateway); got != c.want {
			t.Errorf("%s: code %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDefaultAuthorizer(t *testing.T) {
	cases := []struct {
		identity, gateway string
		want              bool
	}{
		{"system:serviceaccount:ns:gw-gatehouse", "ns/gw", true},
		{"system:serviceaccount:ns:gw-gatehouse", "ns/other", false},
		{"system:serviceaccount:ns2:gw-gatehouse", "ns/gw", false},
		{"system:serviceaccount:ns:gw", "ns/gw", false},
		{"admin", "ns/gw", false},
		{"system:serviceaccount:ns:gw-gatehouse", "gw", false},
	}
	for _, c := range cases {
		if got := DefaultAuthorizer(c.identity, c.gateway); got != c.want {
			t.Errorf("%s -> %s: %v", c.identity, c.gateway, got)
		}
	}
}

// TestTokenReview drives the TokenReview authenticator through client-go's
// fake clientset, checking the request it sends and how it reads answers.
func TestTokenReview(t *testing.T) {
	cs := fake.NewSimpleClientset()
	var seen *authnv1.TokenReview
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview).DeepCopy()
		seen = tr.DeepCopy()
		switch tr.Spec.Token {
		case "good":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, Audiences: tr.Spec.Audiences,
				User: authnv1.UserInfo{Username: "system:serviceaccount:ns:a-gatehouse"}}
		case "wrong-audience":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"other"},
				User: authnv1.UserInfo{Username: "x"}}
		case "boom":
			return true, nil, errors.New("apiserver down")
		default:
			tr.Status = authnv1.TokenReviewStatus{Error: "token expired"}
		}
		return true, tr, nil
	})
	a := &TokenReview{Reviews: cs.AuthenticationV1().TokenReviews()}
	id, err := a.Authenticate(context.Background(), "good")
	if err != nil || id != "system:serviceaccount:ns:a-gatehouse" {
		t.Fatalf("good token: %q %v", id, err)
	}
	if len(seen.Spec.Audiences) != 1 || seen.Spec.Audiences[0] != DefaultAudience || seen.Spec.Token != "good" {
		t.Fatalf("review sent %+v", seen.Spec)
	}
	for _, tok := range []string{"expired", "wrong-audience", "boom", ""} {
		if _, err := a.Authenticate(context.Background(), tok); err == nil {
			t.Errorf("token %q accepted", tok)
		}
	}
	custom := &TokenReview{Reviews: cs.AuthenticationV1().TokenReviews(), Audience: "mine"}
	if _, err := custom.Authenticate(context.Background(), "good"); err != nil || seen.Spec.Audiences[0] != "mine" {
		t.Fatalf("custom audience: %v %v", err, seen.Spec.Audiences)
	}
}
