package provision

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// manifests are the objects of a directory of manifests, decoded strictly
// into the real Kubernetes and Gateway API types.
type manifests struct {
	namespaces          []*corev1.Namespace
	serviceAccounts     []*corev1.ServiceAccount
	services            []*corev1.Service
	deployments         []*appsv1.Deployment
	clusterRoles        []*rbacv1.ClusterRole
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
	roles               []*rbacv1.Role
	roleBindings        []*rbacv1.RoleBinding
	gatewayClasses      []*gwv1.GatewayClass
	crds                []*crd
	kustomizations      []*kustomization
	files               map[string]bool
}

// kustomization mirrors the one field of kustomize's type we use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

func decodeManifests(t *testing.T, docs []document) manifests {
	t.Helper()
	m := manifests{files: map[string]bool{}}
	for _, d := range docs {
		m.files[d.file] = true
		key := d.apiVersion + " " + d.kind
		switch key {
		case "v1 Namespace":
			m.namespaces = append(m.namespaces, decodeInto[corev1.Namespace](t, d))
		case "v1 ServiceAccount":
			m.serviceAccounts = append(m.serviceAccounts, decodeInto[corev1.ServiceAccount](t, d))
		case "v1 Service":
			m.services = append(m.services, decodeInto[corev1.Service](t, d))
		case "apps/v1 Deployment":
			m.deployments = append(m.deployments, decodeInto[appsv1.Deployment](t, d))
		case "rbac.authorization.k8s.io/v1 ClusterRole":
			m.clusterRoles = append(m.clusterRoles, decodeInto[rbacv1.ClusterRole](t, d))
		case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
			m.clusterRoleBindings = append(m.clusterRoleBindings, decodeInto[rbacv1.ClusterRoleBinding](t, d))
		case "rbac.authorization.k8s.io/v1 Role":
			m.roles = append(m.roles, decodeInto[rbacv1.Role](t, d))
		case "rbac.authorization.k8s.io/v1 RoleBinding":
			m.roleBindings = append(m.roleBindings, decodeInto[rbacv1.RoleBinding](t, d))
		case "gateway.networking.k8s.io/v1 GatewayClass":
			m.gatewayClasses = append(m.gatewayClasses, decodeInto[gwv1.GatewayClass](t, d))
		case "apiextensions.k8s.io/v1 CustomResourceDefinition":
			m.crds = append(m.crds, decodeInto[crd](t, d))
		case "kustomize.config.k8s.io/v1beta1 Kustomization":
			m.kustomizations = append(m.kustomizations, decodeInto[kustomization](t, d))
		default:
			t.Errorf("%s: %s is not a kind this test knows; add it to decodeManifests", d, key)
		}
	}
	return m
}

func decodeInto[T any](t *testing.T, d document) *T {
	t.Helper()
	out := new(T)
	decodeStrict(t, d, out)
	return out
}

const (
	systemNamespace = "gatehouse-system"
	controllerName  = "gatehouse-controller"
)

func TestDeployManifests(t *testing.T) {
	m := decodeManifests(t, readDocuments(t, "deploy"))
	checkControllerManifests(t, m)
	checkRBACBindings(t, m)
	if got := rbacRules(clusterRules(m)); !slices.Equal(got, wantClusterPermissions) {
		t.Errorf("ClusterRole grants\n  %s\nwant exactly\n  %s", strings.Join(got, "\n  "), strings.Join(wantClusterPermissions, "\n  "))
	}
	if len(m.roles) != 1 || m.roles[0].Namespace != systemNamespace ||
		!slices.Equal(rbacRules(m.roles[0].Rules), []string{"coordination.k8s.io leases create", "coordination.k8s.io leases get", "coordination.k8s.io leases update"}) {
		t.Errorf("want one Role in %s granting leases get/create/update, got %+v", systemNamespace, m.roles)
	}
	if len(m.gatewayClasses) != 1 || m.gatewayClasses[0].Name != "gatehouse" ||
		m.gatewayClasses[0].Spec.ControllerName != "gatehouse.dev/gateway-controller" {
		t.Errorf("GatewayClasses = %+v, want gatehouse with controllerName gatehouse.dev/gateway-controller", m.gatewayClasses)
	}
	if len(m.crds) != 3 {
		t.Errorf("deploy/ has %d CRDs, want 3", len(m.crds))
	}
	// The kustomization lists every manifest, so `kubectl apply -k deploy`
	// installs all of it.
	if len(m.kustomizations) != 1 {
		t.Fatalf("want one deploy/kustomization.yaml, got %d", len(m.kustomizations))
	}
	listed := map[string]bool{"deploy/kustomization.yaml": true}
	for _, r := range m.kustomizations[0].Resources {
		p := filepath.Join("deploy", r)
		if _, err := os.Stat(filepath.Join(repoPath, p)); err != nil {
			t.Errorf("kustomization lists %s: %v", r, err)
		}
		listed[p] = true
	}
	for f := range m.files {
		if !listed[f] {
			t.Errorf("%s is not listed in deploy/kustomization.yaml", f)
		}
	}
}

// wantClusterPermissions is the whole of the controller's cluster-wide
// access, one "group resource verb" per line; anything more is a finding.
var wantClusterPermissions = func() []string {
	var out []string
	add := func(group string, resources, verbs []string) {
		for _, r := range resources {
			for _, v := range verbs {
				out = append(out, group+" "+r+" "+v)
			}
		}
	}
	read := []string{"get", "list", "watch"}
	// Provisioning reads the live object, then server-side applies it
	// (create when it does not exist yet); the garbage collector deletes.
	provision := []string{"get", "create", "patch"}
	gwKinds := []string{"gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes", "listenersets", "backendtlspolicies"}
	add("gateway.networking.k8s.io", append(slices.Clone(gwKinds), "referencegrants"), read)
	var statuses []string
	for _, k := range gwKinds {
		statuses = append(statuses, k+"/status")
	}
	add("gateway.networking.k8s.io", statuses, []string{"update"})
	add("gateway.networking.k8s.io", []string{"gateways/finalizers"}, []string{"update"})
	add("gatehouse.dev", []string{"staticbackends", "gatewayparameters", "trafficpolicies"}, read)
	add("gatehouse.dev", []string{"trafficpolicies/status"}, []string{"update"})
	add("core", []string{"namespaces", "configmaps", "secrets", "services"}, read)
	add("discovery.k8s.io", []string{"endpointslices"}, read)
	add("core", []string{"services", "serviceaccounts"}, provision)
	add("apps", []string{"deployments"}, provision)
	add("authentication.k8s.io", []string{"tokenreviews"}, []string{"create"})
	slices.Sort(out)
	return slices.Compact(out)
}()

func clusterRules(m manifests) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, cr := range m.clusterRoles {
		rules = append(rules, cr.Rules...)
	}
	return rules
}

// rbacRules flattens rules to sorted "group resource verb" strings; a
// wildcard or a resourceNames restriction shows up as itself.
func rbacRules(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			if g == "" {
				g = "core"
			}
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					s := g + " " + res + " " + v
					if len(r.ResourceNames) > 0 {
						s += fmt.Sprintf(" (names %v)", r.ResourceNames)
					}
					out = append(out, s)
				}
			}
		}
		if len(r.NonResourceURLs) > 0 {
			out = append(out, fmt.Sprintf("nonResourceURLs %v %v", r.NonResourceURLs, r.Verbs))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func checkRBACBindings(t *testing.T, m manifests) {
	t.Helper()
	if len(m.serviceAccounts) != 1 || m.serviceAccounts[0].Name != controllerName || m.serviceAccounts[0].Namespace != systemNamespace {
		t.Fatalf("want ServiceAccount %s/%s, got %+v", systemNamespace, controllerName, m.serviceAccounts)
	}
	wantSubject := rbacv1.Subject{Kind: "ServiceAccount", Name: controllerName, Namespace: systemNamespace}
	for _, b := range m.clusterRoleBindings {
		if !slices.Contains(b.Subjects, wantSubject) || b.RoleRef.Kind != "ClusterRole" ||
			!slices.ContainsFunc(m.clusterRoles, func(r *rbacv1.ClusterRole) bool { return r.Name == b.RoleRef.Name }) {
			t.Errorf("ClusterRoleBinding %s binds %+v to %+v", b.Name, b.Subjects, b.RoleRef)
		}
	}
	for _, b := range m.roleBindings {
		if b.Namespace != systemNamespace || !slices.Contains(b.Subjects, wantSubject) || b.RoleRef.Kind != "Role" ||
			!slices.ContainsFunc(m.roles, func(r *rbacv1.Role) bool { return r.Name == b.RoleRef.Name && r.Namespace == b.Namespace }) {
			t.Errorf("RoleBinding %s/%s binds %+v to %+v", b.Namespace, b.Name, b.Subjects, b.RoleRef)
		}
	}
	if len(m.clusterRoleBindings) != 1 || len(m.roleBindings) != 1 {
		t.Errorf("want one ClusterRoleBinding and one RoleBinding, got %d and %d", len(m.clusterRoleBindings), len(m.roleBindings))
	}
}

func checkControllerManifests(t *testing.T, m manifests) {
	t.Helper()
	if len(m.namespaces) != 1 || m.namespaces[0].Name != systemNamespace {
		t.Errorf("want Namespace %s, got %+v", systemNamespace, m.namespaces)
	}
	if len(m.deployments) != 1 {
		t.Fatalf("want one Deployment, got %d", len(m.deployments))
	}
	dep := m.deployments[0]
	if dep.Namespace != systemNamespace || dep.Spec.Template.Spec.ServiceAccountName != controllerName {
		t.Errorf("Deployment %s/%s runs as %q", dep.Namespace, dep.Name, dep.Spec.Template.Spec.ServiceAccountName)
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
		t.Errorf("Deployment selector %v does not select its pods %v (%v)", dep.Spec.Selector, dep.Spec.Template.Labels, err)
	}
	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("want one controller container, got %d", len(cs))
	}
	c := cs[0]
	wantArgs := []string{"controller", "--xds-address=0.0.0.0:15010", "--admin=0.0.0.0:15000",
		"--proxy-image=" + c.Image, "--proxy-controller-address=gatehouse-controller.gatehouse-system.svc:15010"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("controller args = %q", c.Args)
	}
	for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != intstr.FromInt32(15000) {
			t.Errorf("%s probe = %+v, want GET /healthz on 15000", what, p)
		}
	}
	if len(m.services) != 1 {
		t.Fatalf("want one Service, got %d", len(m.services))
	}
	svc := m.services[0]
	if svc.Namespace != systemNamespace || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(dep.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service %s/%s selector %v does not select the controller pods", svc.Namespace, svc.Name, svc.Spec.Selector)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 15010 || containerPort(c, svc.Spec.Ports[0].TargetPort) != 15010 {
		t.Errorf("Service ports %+v do not reach the container's xDS port 15010", svc.Spec.Ports)
	}
}

// containerPort resolves a Service targetPort against a container.
func containerPort(c corev1.Container, target intstr.IntOrString) int32 {
	if target.Type == intstr.Int {
		return target.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == target.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

// TestRBACCoversProvisioning runs Apply (create, then update) against a fake
// clientset and checks every call it made is granted by deploy/rbac.yaml.
func TestRBACCoversProvisioning(t *testing.T) {
	granted := rbacRules(clusterRules(decodeManifests(t, readDocuments(t, "deploy"))))
	cs := fake.NewClientset()
	mustApply(t, cs, Desired(gateway("web", 80), nil, testOptions))
	mustApply(t, cs, Desired(gateway("web", 80, 443), nil, testOptions))
	if len(cs.Actions()) == 0 {
		t.Fatal("Apply made no calls")
	}
	for _, a := range cs.Actions() {
		r := a.GetResource()
		group := r.Group
		if group == "" {
			group = "core"
		}
		need := group + " " + r.Resource + " " + a.GetVerb()
		if !slices.Contains(granted, need) {
			t.Errorf("Apply needs %q, which deploy/rbac.yaml does not grant", need)
		}
	}
}
