package provision

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

var testOptions = Options{Image: "gatehouse:dev", ControllerAddress: "gatehouse.gatehouse-system.svc:15010"}

func gateway(name string, ports ...gwv1.PortNumber) *gwv1.Gateway {
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", UID: types.UID("uid-" + name)},
		Spec:       gwv1.GatewaySpec{GatewayClassName: "gatehouse"},
	}
	for i, p := range ports {
		gw.Spec.Listeners = append(gw.Spec.Listeners, gwv1.Listener{
			Name: gwv1.SectionName("l" + string(rune('a'+i))), Port: p, Protocol: gwv1.HTTPProtocolType,
		})
	}
	return gw
}

func withInfra(gw *gwv1.Gateway, labels map[gwv1.LabelKey]gwv1.LabelValue, annotations map[gwv1.AnnotationKey]gwv1.AnnotationValue) *gwv1.Gateway {
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{Labels: labels, Annotations: annotations}
	return gw
}

// everyMeta returns the metadata of the three objects and the pod template.
func everyMeta(r Resources) map[string]metav1.ObjectMeta {
	return map[string]metav1.ObjectMeta{
		"ServiceAccount": r.ServiceAccount.ObjectMeta,
		"Deployment":     r.Deployment.ObjectMeta,
		"Service":        r.Service.ObjectMeta,
		"pod template":   r.Deployment.Spec.Template.ObjectMeta,
	}
}

func proxy(t *testing.T, r Resources) corev1.Container {
	t.Helper()
	cs := r.Deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "proxy" {
		t.Fatalf("containers = %+v, want one named proxy", cs)
	}
	return cs[0]
}

func TestDesiredDefaults(t *testing.T) {
	gw := gateway("web", 443, 80, 443, 8080)
	r := Desired(gw, nil, testOptions)

	wantLabels := map[string]string{
		"gateway.networking.k8s.io/gateway-name": "web",
		"app.kubernetes.io/name":                 "gatehouse-proxy",
		"app.kubernetes.io/instance":             "web",
	}
	wantOwner := []metav1.OwnerReference{{
		APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway", Name: "web", UID: "uid-web",
		Controller: new(true), BlockOwnerDeletion: new(true),
	}}
	for what, m := range everyMeta(r) {
		if !reflect.DeepEqual(m.Labels, wantLabels) {
			t.Errorf("%s labels = %v, want %v", what, m.Labels, wantLabels)
		}
		if m.Annotations != nil {
			t.Errorf("%s annotations = %v, want none", what, m.Annotations)
		}
		if what == "pod template" {
			continue
		}
		if m.Name != "web-gatehouse" || m.Namespace != "apps" {
			t.Errorf("%s is %s/%s, want apps/web-gatehouse", what, m.Namespace, m.Name)
		}
		if !reflect.DeepEqual(m.OwnerReferences, wantOwner) {
			t.Errorf("%s ownerReferences = %+v, want %+v", what, m.OwnerReferences, wantOwner)
		}
	}

	dep := r.Deployment
	if *dep.Spec.Replicas != 1 {
		t.Errorf("replicas = %d, want 1", *dep.Spec.Replicas)
	}
	pod := dep.Spec.Template.Spec
	if pod.ServiceAccountName != "web-gatehouse" {
		t.Errorf("serviceAccountName = %q", pod.ServiceAccountName)
	}
	c := proxy(t, r)
	if c.Image != "gatehouse:dev" {
		t.Errorf("image = %q", c.Image)
	}
	wantArgs := []string{"proxy", "--controller", "gatehouse.gatehouse-system.svc:15010", "--gateway", "apps/web",
		"--token-file", "/var/run/secrets/gatehouse/token", "--admin", "0.0.0.0:15000"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	if len(c.Env) != 2 || c.Env[0].Name != "POD_NAME" || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.name" ||
		c.Env[1].Name != "POD_NAMESPACE" || c.Env[1].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("env = %+v, want POD_NAME and POD_NAMESPACE from the downward API", c.Env)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/ready" || p.HTTPGet.Port != intstr.FromInt32(15000) {
		t.Errorf("readinessProbe = %+v, want GET /ready on 15000", p)
	}
	var containerPorts []int32
	for _, p := range c.Ports {
		containerPorts = append(containerPorts, p.ContainerPort)
	}
	if !slices.Equal(containerPorts, []int32{80, 443, 8080}) {
		t.Errorf("container ports = %v, want [80 443 8080] (deduplicated, sorted)", containerPorts)
	}

	// The token: projected, our audience, one hour, mounted where --token-file points.
	if len(pod.Volumes) != 1 || pod.Volumes[0].Projected == nil || len(pod.Volumes[0].Projected.Sources) != 1 {
		t.Fatalf("volumes = %+v, want one projected volume", pod.Volumes)
	}
	tok := pod.Volumes[0].Projected.Sources[0].ServiceAccountToken
	if tok == nil || tok.Audience != "gatehouse" || *tok.ExpirationSeconds != 3600 || tok.Path != "token" {
		t.Errorf("token projection = %+v", tok)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != pod.Volumes[0].Name || c.VolumeMounts[0].MountPath != "/var/run/secrets/gatehouse" {
		t.Errorf("volumeMounts = %+v", c.VolumeMounts)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the pod mounts the default ServiceAccount token; it needs none")
	}
	// Port 80 needs the unprivileged port range lowered for a non-root proxy.
	if sc := pod.SecurityContext; len(sc.Sysctls) != 1 || sc.Sysctls[0].Value != "0" || !*sc.RunAsNonRoot {
		t.Errorf("pod securityContext = %+v", sc)
	}

	svc := r.Service
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Errorf("service type = %q, want LoadBalancer", svc.Spec.Type)
	}
	wantPorts := []corev1.ServicePort{
		{Name: "p-80", Protocol: "TCP", Port: 80, TargetPort: intstr.FromInt32(80)},
		{Name: "p-443", Protocol: "TCP", Port: 443, TargetPort: intstr.FromInt32(443)},
		{Name: "p-8080", Protocol: "TCP", Port: 8080, TargetPort: intstr.FromInt32(8080)},
	}
	if !reflect.DeepEqual(svc.Spec.Ports, wantPorts) {
		t.Errorf("service ports = %+v, want %+v", svc.Spec.Ports, wantPorts)
	}
	if !reflect.DeepEqual(svc.Spec.Selector, dep.Spec.Selector.MatchLabels) {
		t.Errorf("service selector %v != deployment selector %v", svc.Spec.Selector, dep.Spec.Selector.MatchLabels)
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("pod template lacks selector label %s=%s", k, v)
		}
	}
}

func TestDesiredInfrastructurePropagation(t *testing.T) {
	gw := withInfra(gateway("web", 8080),
		map[gwv1.LabelKey]gwv1.LabelValue{"team": "payments", "app.kubernetes.io/name": "hijack"},
		map[gwv1.AnnotationKey]gwv1.AnnotationValue{"example.com/cost-center": "42"})
	params := &v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{
		Service: &v1alpha1.ServiceParameters{Annotations: map[string]string{
			"example.com/lb": "internal", "example.com/cost-center": "43",
		}},
	}}
	r := Desired(gw, params, testOptions)

	for what, m := range everyMeta(r) {
		if m.Labels["team"] != "payments" {
			t.Errorf("%s: infrastructure label team missing: %v", what, m.Labels)
		}
		if m.Labels["app.kubernetes.io/name"] != "gatehouse-proxy" {
			t.Errorf("%s: infrastructure labels overrode app.kubernetes.io/name: %v", what, m.Labels)
		}
		want := "42"
		if what == "Service" {
			want = "43" // GatewayParameters' Service annotations win on the Service
		}
		if got := m.Annotations["example.com/cost-center"]; got != want {
			t.Errorf("%s: annotation example.com/cost-center = %q, want %q", what, got, want)
		}
		if _, ok := m.Annotations["example.com/lb"]; ok != (what == "Service") {
			t.Errorf("%s: Service-only annotation present = %v", what, ok)
		}
	}
	if _, ok := r.Deployment.Spec.Selector.MatchLabels["team"]; ok {
		t.Errorf("infrastructure labels are in the immutable Deployment selector: %v", r.Deployment.Spec.Selector.MatchLabels)
	}
	if !reflect.DeepEqual(r.Service.Spec.Selector, r.Deployment.Spec.Selector.MatchLabels) {
		t.Errorf("service selector %v != deployment selector", r.Service.Spec.Selector)
	}
	if len(r.Deployment.Spec.Template.Spec.SecurityContext.Sysctls) != 0 {
		t.Errorf("sysctls set although every port is >= 1024")
	}
}

func TestDesiredParameters(t *testing.T) {
	tolerations := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "edge", Effect: corev1.TaintEffectNoSchedule}}
	resources := &corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	tests := []struct {
		name   string
		params v1alpha1.GatewayParametersSpec
		opts   Options
		check  func(t *testing.T, r Resources)
	}{{
		name:   "ClusterIP drops externalTrafficPolicy",
		params: v1alpha1.GatewayParametersSpec{Service: &v1alpha1.ServiceParameters{Type: new(corev1.ServiceTypeClusterIP), ExternalTrafficPolicy: new(corev1.ServiceExternalTrafficPolicyLocal)}},
		check: func(t *testing.T, r Resources) {
			if r.Service.Spec.Type != corev1.ServiceTypeClusterIP || r.Service.Spec.ExternalTrafficPolicy != "" {
				t.Errorf("service spec = %+v, want ClusterIP without externalTrafficPolicy", r.Service.Spec)
			}
		},
	}, {
		name:   "NodePort keeps externalTrafficPolicy",
		params: v1alpha1.GatewayParametersSpec{Service: &v1alpha1.ServiceParameters{Type: new(corev1.ServiceTypeNodePort), ExternalTrafficPolicy: new(corev1.ServiceExternalTrafficPolicyLocal)}},
		check: func(t *testing.T, r Resources) {
			if r.Service.Spec.Type != corev1.ServiceTypeNodePort || r.Service.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
				t.Errorf("service spec = %+v, want NodePort with Local", r.Service.Spec)
			}
		},
	}, {
		name: "deployment settings",
		params: v1alpha1.GatewayParametersSpec{Deployment: &v1alpha1.DeploymentParameters{
			Replicas: new(int32(3)), Image: "registry.example/gatehouse:v2", ImagePullPolicy: corev1.PullAlways,
			Resources: resources, NodeSelector: map[string]string{"role": "edge"}, Tolerations: tolerations,
			Env: []corev1.EnvVar{{Name: "GOMAXPROCS", Value: "2"}, {Name: "NODE", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
			}}},
		}},
		check: func(t *testing.T, r Resources) {
			c := proxy(t, r)
			pod := r.Deployment.Spec.Template.Spec
			if *r.Deployment.Spec.Replicas != 3 || c.Image != "registry.example/gatehouse:v2" || c.ImagePullPolicy != corev1.PullAlways {
				t.Errorf("replicas/image/pullPolicy = %d/%s/%s", *r.Deployment.Spec.Replicas, c.Image, c.ImagePullPolicy)
			}
			if !reflect.DeepEqual(c.Resources, *resources) {
				t.Errorf("resources = %+v", c.Resources)
			}
			if !reflect.DeepEqual(pod.NodeSelector, map[string]string{"role": "edge"}) || !reflect.DeepEqual(pod.Tolerations, tolerations) {
				t.Errorf("nodeSelector/tolerations = %v/%v", pod.NodeSelector, pod.Tolerations)
			}
			if len(c.Env) != 4 || c.Env[0].Name != "POD_NAME" || c.Env[2].Name != "GOMAXPROCS" || c.Env[3].Name != "NODE" {
				t.Errorf("env = %+v, want POD_NAME, POD_NAMESPACE, then GOMAXPROCS and NODE", c.Env)
			}
			// The apiserver's default, filled in so that re-applying an
			// unchanged Deployment is recognised as unchanged (fieldRef is
			// atomic in server-side apply).
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.FieldRef.APIVersion != "v1" {
					t.Errorf("env %s fieldRef apiVersion = %q, want v1", e.Name, e.ValueFrom.FieldRef.APIVersion)
				}
			}
		},
	}, {
		name:   "log level, proxy args and token audience",
		params: v1alpha1.GatewayParametersSpec{LogLevel: "debug"},
		opts:   Options{Image: "gatehouse:dev", ControllerAddress: "ctl:15010", TokenAudience: "gatehouse-prod", ProxyArgs: []string{"--drain", "5s"}},
		check: func(t *testing.T, r Resources) {
			c := proxy(t, r)
			if got := strings.Join(c.Args[len(c.Args)-4:], " "); got != "--log-level debug --drain 5s" {
				t.Errorf("args end with %q, want the log level then ProxyArgs", got)
			}
			tok := r.Deployment.Spec.Template.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken
			if tok.Audience != "gatehouse-prod" {
				t.Errorf("token audience = %q", tok.Audience)
			}
		},
	}, {
		name:   "empty parameters keep the defaults",
		params: v1alpha1.GatewayParametersSpec{Service: &v1alpha1.ServiceParameters{}, Deployment: &v1alpha1.DeploymentParameters{}},
		check: func(t *testing.T, r Resources) {
			if r.Service.Spec.Type != corev1.ServiceTypeLoadBalancer || *r.Deployment.Spec.Replicas != 1 || proxy(t, r).Image != "gatehouse:dev" {
				t.Errorf("defaults lost: type %s, replicas %d, image %s", r.Service.Spec.Type, *r.Deployment.Spec.Replicas, proxy(t, r).Image)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if opts.Image == "" {
				opts = testOptions
			}
			tt.check(t, Desired(gateway("web", 8080), &v1alpha1.GatewayParameters{Spec: tt.params}, opts))
		})
	}
}

// Desired must not alias its GatewayParameters: the controller's cache holds
// them, and neither may change under the other.
func TestDesiredDoesNotAliasParameters(t *testing.T) {
	params := &v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{
		Service: &v1alpha1.ServiceParameters{Annotations: map[string]string{"lb": "internal"}},
		Deployment: &v1alpha1.DeploymentParameters{
			Resources:    &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
			NodeSelector: map[string]string{"role": "edge"},
			Tolerations:  []corev1.Toleration{{Key: "dedicated", Value: "edge"}},
			Env:          []corev1.EnvVar{{Name: "GOMAXPROCS", Value: "2"}},
		},
	}}
	pristine := params.DeepCopy()

	// Changing the result leaves the parameters alone.
	r := Desired(gateway("web", 8080), params, testOptions)
	pod := &r.Deployment.Spec.Template.Spec
	pod.NodeSelector["role"] = "changed"
	pod.Tolerations[0].Value = "changed"
	pod.Containers[0].Env[2].Value = "changed"
	pod.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("9")
	r.Service.Annotations["lb"] = "changed"
	if !reflect.DeepEqual(params, pristine) {
		t.Errorf("changing Desired's result changed the GatewayParameters")
	}

	// Changing the parameters leaves an earlier result alone.
	r = Desired(gateway("web", 8080), params, testOptions)
	want := Desired(gateway("web", 8080), pristine.DeepCopy(), testOptions)
	d := params.Spec.Deployment
	d.NodeSelector["role"] = "mutated"
	d.Tolerations[0].Value = "mutated"
	d.Env[0].Value = "mutated"
	d.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("9")
	params.Spec.Service.Annotations["lb"] = "mutated"
	if !reflect.DeepEqual(r, want) {
		t.Errorf("changing the GatewayParameters changed an earlier Desired result")
	}
	if reflect.DeepEqual(Desired(gateway("web", 8080), params, testOptions), want) {
		t.Errorf("the mutations changed nothing Desired reads: the test is not testing")
	}
}

func TestNameAndLabelLimits(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct {
		gateway string
		want    string // "" means: check the properties only
	}{
		{gateway: "web", want: "web-gatehouse"},
		{gateway: strings.Repeat("a", 53), want: strings.Repeat("a", 53) + "-gatehouse"}, // exactly 63
		{gateway: strings.Repeat("a", 54)},
		{gateway: long + "-one"},
		{gateway: long + "-two"},
		{gateway: "edge.example.com"},
		{gateway: "1st"},
		{gateway: strings.Repeat("b", 43) + "-" + strings.Repeat("c", 200)},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		gw := gateway(tt.gateway, 80)
		n := Name(gw)
		if tt.want != "" && n != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.gateway, n, tt.want)
		}
		if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
			t.Errorf("Name(%q) = %q is not a valid Service name: %v", tt.gateway, n, errs)
		}
		if !strings.HasSuffix(n, "-gatehouse") {
			t.Errorf("Name(%q) = %q lost the -gatehouse suffix", tt.gateway, n)
		}
		if other, dup := seen[n]; dup {
			t.Errorf("Gateways %q and %q share the name %q", other, tt.gateway, n)
		}
		seen[n] = tt.gateway
		if Name(gw) != n {
			t.Errorf("Name(%q) is not stable", tt.gateway)
		}

		r := Desired(gw, nil, testOptions)
		for what, m := range everyMeta(r) {
			for k, v := range m.Labels {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Errorf("%s of Gateway %q: label %s=%q is invalid: %v", what, tt.gateway, k, v, errs)
				}
			}
		}
		if r.Deployment.Spec.Template.Spec.ServiceAccountName != n {
			t.Errorf("serviceAccountName %q != %q", r.Deployment.Spec.Template.Spec.ServiceAccountName, n)
		}
		// The proxy is told its Gateway's full name, never the shortened one.
		if !slices.Contains(proxy(t, r).Args, "apps/"+tt.gateway) {
			t.Errorf("args %q do not name the Gateway apps/%s", proxy(t, r).Args, tt.gateway)
		}
	}
}

// TestDesiredListenerSetPorts checks that ports served only by ListenerSets
// are exposed by the Service and the container, merged with the Gateway's.
func TestDesiredListenerSetPorts(t *testing.T) {
	r := Desired(gateway("web", 80), nil, testOptions, 8443, 80, 9000)
	var svcPorts []int32
	for _, p := range r.Service.Spec.Ports {
		svcPorts = append(svcPorts, p.Port)
	}
	if want := []int32{80, 8443, 9000}; !slices.Equal(svcPorts, want) {
		t.Errorf("Service ports = %v, want %v", svcPorts, want)
	}
	var containerPorts []int32
	for _, p := range proxy(t, r).Ports {
		if strings.HasPrefix(p.Name, "p-") {
			containerPorts = append(containerPorts, p.ContainerPort)
		}
	}
	if want := []int32{80, 8443, 9000}; !slices.Equal(containerPorts, want) {
		t.Errorf("container ports = %v, want %v", containerPorts, want)
	}
}
