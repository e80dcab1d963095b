package v1alpha1

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The DeepCopy methods are written by hand (the package has no code
// generator); deepcopy_test.go fills every field and checks that a copy is
// equal and shares no memory with the original, so a new field that is not
// copied here fails the tests.

// DeepCopyInto copies p into out; out shares no memory with p afterwards.
func (p *GatewayParameters) DeepCopyInto(out *GatewayParameters) {
	out.TypeMeta = p.TypeMeta
	p.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	p.Spec.DeepCopyInto(&out.Spec)
}

// DeepCopy returns a deep copy of p.
func (p *GatewayParameters) DeepCopy() *GatewayParameters {
	if p == nil {
		return nil
	}
	out := new(GatewayParameters)
	p.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (p *GatewayParameters) DeepCopyObject() runtime.Object {
	if c := p.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies s into out.
func (s *GatewayParametersSpec) DeepCopyInto(out *GatewayParametersSpec) {
	*out = *s
	if s.Service != nil {
		out.Service = new(ServiceParameters)
		s.Service.DeepCopyInto(out.Service)
	}
	if s.Deployment != nil {
		out.Deployment = new(DeploymentParameters)
		s.Deployment.DeepCopyInto(out.Deployment)
	}
	if s.Limits != nil {
		out.Limits = s.Limits.DeepCopy()
	}
}

// DeepCopy returns a deep copy of l.
func (l *ProxyLimits) DeepCopy() *ProxyLimits {
	if l == nil {
		return nil
	}
	out := &ProxyLimits{EscapedSlashes: l.EscapedSlashes}
	out.MaxHeaderBytes = clonePtr(l.MaxHeaderBytes)
	out.MaxHeaderCount = clonePtr(l.MaxHeaderCount)
	out.ReadHeaderTimeout = clonePtr(l.ReadHeaderTimeout)
	out.IdleTimeout = clonePtr(l.IdleTimeout)
	out.MinBodyRate = clonePtr(l.MinBodyRate)
	out.BodyRateGrace = clonePtr(l.BodyRateGrace)
	out.MaxConcurrentStreams = clonePtr(l.MaxConcurrentStreams)
	out.KeepDuplicateSlashes = clonePtr(l.KeepDuplicateSlashes)
	return out
}

// clonePtr returns a new pointer to a copy of *p (nil for nil); for values
// without references.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// DeepCopyInto copies s into out.
func (s *ServiceParameters) DeepCopyInto(out *ServiceParameters) {
	*out = *s
	if s.Type != nil {
		t := *s.Type
		out.Type = &t
	}
	out.Annotations = maps.Clone(s.Annotations)
	if s.ExternalTrafficPolicy != nil {
		p := *s.ExternalTrafficPolicy
		out.ExternalTrafficPolicy = &p
	}
}

// DeepCopyInto copies d into out.
func (d *DeploymentParameters) DeepCopyInto(out *DeploymentParameters) {
	*out = *d
	if d.Replicas != nil {
		r := *d.Replicas
		out.Replicas = &r
	}
	out.Resources = d.Resources.DeepCopy() // nil-safe
	out.NodeSelector = maps.Clone(d.NodeSelector)
	if d.Tolerations != nil {
		out.Tolerations = make([]corev1.Toleration, len(d.Tolerations))
		for i := range d.Tolerations {
			d.Tolerations[i].DeepCopyInto(&out.Tolerations[i])
		}
	}
	if d.Env != nil {
		out.Env = make([]corev1.EnvVar, len(d.Env))
		for i := range d.Env {
			d.Env[i].DeepCopyInto(&out.Env[i])
		}
	}
}

// DeepCopyInto copies l into out; out shares no memory with l afterwards.
func (l *GatewayParametersList) DeepCopyInto(out *GatewayParametersList) {
	out.TypeMeta = l.TypeMeta
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items == nil {
		out.Items = nil
		return
	}
	out.Items = make([]GatewayParameters, len(l.Items))
	for i := range l.Items {
		l.Items[i].DeepCopyInto(&out.Items[i])
	}
}

// DeepCopy returns a deep copy of l.
func (l *GatewayParametersList) DeepCopy() *GatewayParametersList {
	if l == nil {
		return nil
	}
	out := new(GatewayParametersList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *GatewayParametersList) DeepCopyObject() runtime.Object {
	if c := l.DeepCopy(); c != nil {
		return c
	}
	return nil
}
