package cluster

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ServiceAccountKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount namespace/name (which must exist) with a token from the
// TokenRequest API valid for validity, and returns its path. With
// Options.Authorization "RBAC", a process using it has exactly the
// permissions bound to that ServiceAccount.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, name string, validity time.Duration) (string, error) {
	secs := int64(validity / time.Second)
	tr, err := c.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("cluster: token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	path := filepath.Join(c.Dir, "kubeconfig-"+namespace+"-"+name)
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: gatehouse
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: gatehouse
  context: {cluster: gatehouse, user: %s}
current-context: gatehouse
`, c.Config.Host, base64.StdEncoding.EncodeToString(c.Config.CAData), name, tr.Status.Token, name)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// authorizationMode is the apiserver's --authorization-mode for o.
func authorizationMode(o Options) string {
	if o.Authorization == "" {
		return "AlwaysAllow"
	}
	return o.Authorization
}

// InstallServiceAccountRBAC creates namespace, applies manifest (a
// ServiceAccount in it with its roles and bindings, e.g. deploy/rbac.yaml)
// and returns a kubeconfig for namespace/serviceAccount
// (ServiceAccountKubeconfig, valid for a day).
func (c *Cluster) InstallServiceAccountRBAC(ctx context.Context, manifest, namespace, serviceAccount string) (string, error) {
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": namespace}}}
	objs, err := DecodeManifests(manifest)
	if err != nil {
		return "", err
	}
	if err := c.Apply(ctx, ns); err != nil { // first: Apply is concurrent
		return "", err
	}
	if err := c.Apply(ctx, objs...); err != nil {
		return "", fmt.Errorf("cluster: %s: %w", manifest, err)
	}
	// The apiserver's authorizer learns new roles and bindings from its own
	// informers, a moment after they are written: wait until it allows what
	// the manifest grants, so that the first requests are not denied.
	user := "system:serviceaccount:" + namespace + ":" + serviceAccount
	for _, o := range objs {
		if err := c.waitAllowed(ctx, user, o); err != nil {
			return "", err
		}
	}
	return c.ServiceAccountKubeconfig(ctx, namespace, serviceAccount, 24*time.Hour)
}

// waitAllowed waits until every rule of o, when it is a Role or
// ClusterRole, is allowed for user (SubjectAccessReview, up to 30 s).
func (c *Cluster) waitAllowed(ctx context.Context, user string, o *unstructured.Unstructured) error {
	if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
		return nil
	}
	rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		groups, _, _ := unstructured.NestedStringSlice(rule, "apiGroups")
		resources, _, _ := unstructured.NestedStringSlice(rule, "resources")
		verbs, _, _ := unstructured.NestedStringSlice(rule, "verbs")
		for _, g := range groups {
			for _, res := range resources {
				name, sub, _ := strings.Cut(res, "/")
				for _, v := range verbs {
					attrs := &authorizationv1.ResourceAttributes{Namespace: o.GetNamespace(), Verb: v, Group: g, Resource: name, Subresource: sub}
					if err := c.waitReview(ctx, user, attrs); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func (c *Cluster) waitReview(ctx context.Context, user string, attrs *authorizationv1.ResourceAttributes) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		sar, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: attrs,
				Groups: []string{"system:serviceaccounts", "system:authenticated"}},
		}, metav1.CreateOptions{})
		if err == nil && sar.Status.Allowed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %s still may not %s %s/%s/%s (err %v)", user, attrs.Verb, attrs.Group, attrs.Resource, attrs.Subresource, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ForbiddenLines returns the lines of the log file at path that report a
// request the apiserver refused as forbidden (RBAC denials).
func ForbiddenLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "forbidden") {
			out = append(out, sc.Text())
		}
	}
	return out
}
