package provision

import (
	"maps"
	"net"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

func deployment(gw *gwv1.Gateway, spec v1alpha1.GatewayParametersSpec, o Options, ports []int32) *appsv1.Deployment {
	dp := spec.Deployment
	if dp == nil {
		dp = &v1alpha1.DeploymentParameters{}
	}
	replicas := int32(1)
	if dp.Replicas != nil {
		replicas = *dp.Replicas
	}
	podMeta := objectMeta(gw)
	podMeta.Name, podMeta.Namespace, podMeta.OwnerReferences = "", "", nil

	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(gw),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(gw)},
			// Never take a ready proxy away before its replacement is ready.
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: new(intstr.FromInt32(0)),
					MaxSurge:       new(intstr.FromString("25%")),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMeta,
				Spec:       podSpec(gw, dp, spec.LogLevel, o, ports),
			},
		},
	}
}

func podSpec(gw *gwv1.Gateway, dp *v1alpha1.DeploymentParameters, logLevel string, o Options, ports []int32) corev1.PodSpec {
	audience := o.TokenAudience
	if audience == "" {
		audience = DefaultTokenAudience
	}
	spec := corev1.PodSpec{
		ServiceAccountName:           Name(gw),
		AutomountServiceAccountToken: new(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   new(true),
			RunAsUser:      new(int64(proxyUser)),
			RunAsGroup:     new(int64(proxyUser)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		NodeSelector: maps.Clone(dp.NodeSelector),
		Tolerations:  cloneEach(dp.Tolerations, (*corev1.Toleration).DeepCopy),
		Containers:   []corev1.Container{proxyContainer(gw, dp, logLevel, o, ports)},
		Volumes: []corev1.Volume{{
			Name: tokenVolume,
			VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience:          audience,
					ExpirationSeconds: new(int64(tokenExpiration)),
					Path:              "token",
				}}},
			}},
		}},
	}
	// A non-root proxy may only bind ports below 1024 when the pod lowers the
	// unprivileged port range (a "safe" sysctl, allowed by default).
	if len(ports) > 0 && ports[0] < 1024 {
		spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}}
	}
	return spec
}

func proxyContainer(gw *gwv1.Gateway, dp *v1alpha1.DeploymentParameters, logLevel string, o Options, ports []int32) corev1.Container {
	image := o.Image
	if dp.Image != "" {
		image = dp.Image
	}
	c := corev1.Container{
		Name:            ContainerName,
		Image:           image,
		ImagePullPolicy: dp.ImagePullPolicy,
		Args:            proxyArgs(gw, logLevel, o),
		Env: append([]corev1.EnvVar{
			fieldEnv("POD_NAME", "metadata.name"),
			fieldEnv("POD_NAMESPACE", "metadata.namespace"),
		}, userEnv(dp.Env)...),
		VolumeMounts: []corev1.VolumeMount{{Name: tokenVolume, MountPath: TokenDir, ReadOnly: true}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/ready",
				Port: intstr.FromInt32(AdminPort),
			}},
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			ReadOnlyRootFilesystem:   new(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	if dp.Resources != nil {
		c.Resources = *dp.Resources.DeepCopy()
	}
	for _, port := range ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{
			Name:          portName(port),
			ContainerPort: port,
			Protocol:      corev1.ProtocolTCP,
		})
	}
	return c
}

// proxyArgs is the proxy command line: where the controller is, which
// Gateway to serve, how to authenticate, where to serve /ready.
func proxyArgs(gw *gwv1.Gateway, logLevel string, o Options) []string {
	args := []string{
		"proxy",
		"--controller", o.ControllerAddress,
		"--gateway", gw.Namespace + "/" + gw.Name,
		"--token-file", TokenFile,
		"--admin", net.JoinHostPort("0.0.0.0", strconv.Itoa(AdminPort)),
	}
	if logLevel != "" {
		args = append(args, "--log-level", logLevel)
	}
	return append(args, o.ProxyArgs...)
}

// userEnv copies the GatewayParameters' env, filling in the default the
// apiserver would: a fieldRef is an atomic struct in server-side apply, so
// its defaulted apiVersion would otherwise count as a difference from what
// we applied and make every resync write the Deployment again.
func userEnv(env []corev1.EnvVar) []corev1.EnvVar {
	out := cloneEach(env, (*corev1.EnvVar).DeepCopy)
	for i := range out {
		if vf := out[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	return out
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path},
	}}
}

// cloneEach deep-copies a slice so Desired's result shares no memory with
// the GatewayParameters it read.
func cloneEach[T any](in []T, deepCopy func(*T) *T) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i := range in {
		out[i] = *deepCopy(&in[i])
	}
	return out
}
