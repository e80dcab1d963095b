// Package podsim is the kubelet stand-in of the local cluster harness.
//
// There is no kubelet, container runtime or kube-proxy on the machines the
// harness runs on. The simulator registers one Ready fake Node, binds every
// pending pod to it and runs each pod as local processes: every pod gets its
// own network namespace, attached by a veth pair to a bridge the simulator
// creates (10.244.0.1/16 by default), so pods get real, non-loopback IPs that
// EndpointSlices accept and that the host can reach directly.
//
// Container images are mapped by repository to local binaries (Config.Images);
// a container whose image is not mapped runs no process and is reported
// Running and Ready. Volumes are materialised under a per-pod root directory
// and container paths are mapped into it (see the README under hack/cluster).
//
// The simulator also finalises deleted pods (force delete, grace 0), serves
// the kubelet's /containerLogs endpoint for `kubectl logs`, and fills the
// status of Services of type LoadBalancer with the IP of a ready backend pod.
package podsim
