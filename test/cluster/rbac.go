package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
