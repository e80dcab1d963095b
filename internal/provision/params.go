package provision

import (
	"maps"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

// MergeParameters combines the GatewayParameters of a GatewayClass
// (spec.parametersRef) with those of a Gateway
// (spec.infrastructure.parametersRef): the class gives defaults, the Gateway
// overrides them field by field, as the Gateway API recommends. Maps
// (annotations, nodeSelector) merge key by key with the Gateway winning;
// lists (tolerations, env) and resources are replaced whole when the Gateway
// sets them. Either argument may be nil; the result shares no memory with
// them.
func MergeParameters(class, gateway *v1alpha1.GatewayParameters) *v1alpha1.GatewayParameters {
	switch {
	case class == nil:
		return gateway.DeepCopy()
	case gateway == nil:
		return class.DeepCopy()
	}
	out := class.DeepCopy()
	g := gateway.DeepCopy().Spec
	if g.LogLevel != "" {
		out.Spec.LogLevel = g.LogLevel
	}
	out.Spec.Limits = mergeLimits(out.Spec.Limits, g.Limits)
	if gs := g.Service; gs != nil {
		if out.Spec.Service == nil {
			out.Spec.Service = &v1alpha1.ServiceParameters{}
		}
		s := out.Spec.Service
		s.Type = override(s.Type, gs.Type)
		s.ExternalTrafficPolicy = override(s.ExternalTrafficPolicy, gs.ExternalTrafficPolicy)
		s.Annotations = mergeMaps(s.Annotations, gs.Annotations)
	}
	if gd := g.Deployment; gd != nil {
		if out.Spec.Deployment == nil {
			out.Spec.Deployment = &v1alpha1.DeploymentParameters{}
		}
		d := out.Spec.Deployment
		d.Replicas = override(d.Replicas, gd.Replicas)
		d.Resources = override(d.Resources, gd.Resources)
		if gd.Image != "" {
			d.Image = gd.Image
		}
		if gd.ImagePullPolicy != "" {
			d.ImagePullPolicy = gd.ImagePullPolicy
		}
		d.NodeSelector = mergeMaps(d.NodeSelector, gd.NodeSelector)
		if gd.Tolerations != nil {
			d.Tolerations = gd.Tolerations
		}
		if gd.Env != nil {
			d.Env = gd.Env
		}
	}
	return out
}

// override returns b when it is set, else a.
func override[T any](a, b *T) *T {
	if b != nil {
		return b
	}
	return a
}

// mergeMaps returns a with b's entries added over it.
func mergeMaps(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = make(map[string]string, len(b))
	}
	maps.Copy(a, b)
	return a
}
