package xds

import "time"

// Push describes one response sent to a proxy and its answer, for metrics
// (Options.OnPush).
type Push struct {
	// Gateway and Node identify the proxy.
	Gateway, Node string
	// Version is the hub version sent.
	Version uint64
	// Resources and Removals count what the response carried.
	Resources, Removals int
	// Latency is the time from sending the response to the proxy's answer.
	Latency time.Duration
	// Rejected is the number of resources the proxy NACKed.
	Rejected int
}

// observePush reports a push to Options.OnPush, if set.
func (s *Server) observePush(st *stream, resources, removals int, version uint64, sent time.Time) {
	if s.opts.OnPush == nil {
		return
	}
	_, rej := st.sub.Acked()
	s.opts.OnPush(Push{Gateway: st.gateway, Node: st.node, Version: version, Resources: resources,
		Removals: removals, Latency: time.Since(sent), Rejected: len(rej)})
}
