package provision

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

// limitArgs turns GatewayParameters' spec.limits into proxy flags, in a
// fixed order (so the Deployment is stable); unset fields add nothing and
// keep the proxy's defaults.
func limitArgs(l *v1alpha1.ProxyLimits) []string {
	if l == nil {
		return nil
	}
	var args []string
	addInt := func(flag string, v *int32) {
		if v != nil {
			args = append(args, "--"+flag, strconv.Itoa(int(*v)))
		}
	}
	addInt("max-header-bytes", l.MaxHeaderBytes)
	addInt("max-header-count", l.MaxHeaderCount)
	if l.ReadHeaderTimeout != nil {
		args = append(args, "--read-header-timeout", l.ReadHeaderTimeout.Duration.String())
	}
	if l.IdleTimeout != nil {
		args = append(args, "--idle-timeout", l.IdleTimeout.Duration.String())
	}
	addInt("min-body-rate", l.MinBodyRate)
	if l.BodyRateGrace != nil {
		args = append(args, "--body-rate-grace", l.BodyRateGrace.Duration.String())
	}
	addInt("max-concurrent-streams", l.MaxConcurrentStreams)
	if l.EscapedSlashes != "" {
		args = append(args, "--escaped-slashes", l.EscapedSlashes)
	}
	if l.KeepDuplicateSlashes != nil {
		args = append(args, "--keep-duplicate-slashes="+strconv.FormatBool(*l.KeepDuplicateSlashes))
	}
	return args
}

// mergeLimits returns class's limits with gateway's set fields over them,
// field by field, as MergeParameters does for the other settings.
func mergeLimits(class, gateway *v1alpha1.ProxyLimits) *v1alpha1.ProxyLimits {
	if gateway == nil {
		return class
	}
	if class == nil {
		return gateway
	}
	out := *class
	out.MaxHeaderBytes = override(out.MaxHeaderBytes, gateway.MaxHeaderBytes)
	out.MaxHeaderCount = override(out.MaxHeaderCount, gateway.MaxHeaderCount)
	out.ReadHeaderTimeout = override(out.ReadHeaderTimeout, gateway.ReadHeaderTimeout)
	out.IdleTimeout = override(out.IdleTimeout, gateway.IdleTimeout)
	out.MinBodyRate = override(out.MinBodyRate, gateway.MinBodyRate)
	out.BodyRateGrace = override(out.BodyRateGrace, gateway.BodyRateGrace)
	out.MaxConcurrentStreams = override(out.MaxConcurrentStreams, gateway.MaxConcurrentStreams)
	out.KeepDuplicateSlashes = override(out.KeepDuplicateSlashes, gateway.KeepDuplicateSlashes)
	if gateway.EscapedSlashes != "" {
		out.EscapedSlashes = gateway.EscapedSlashes
	}
	return &out
}

// withLimitArgs appends the limit flags to the proxy container's command
// line; after the controller-wide Options.ProxyArgs, so a Gateway's
// parameters win over them (the last occurrence of a flag counts).
func withLimitArgs(dep *appsv1.Deployment, l *v1alpha1.ProxyLimits) *appsv1.Deployment {
	args := limitArgs(l)
	if len(args) == 0 {
		return dep
	}
	for i := range dep.Spec.Template.Spec.Containers {
		if c := &dep.Spec.Template.Spec.Containers[i]; c.Name == ContainerName {
			c.Args = append(c.Args, args...)
		}
	}
	return dep
}
