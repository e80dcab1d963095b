// Package cluster starts a real, local Kubernetes control plane for
// end-to-end tests: etcd, kube-apiserver and kube-controller-manager built by
// hack/cluster/build.sh, the Gateway API CRDs, and the pod simulator
// (package podsim) in place of kubelet, container runtime and scheduler.
//
// It needs root (network namespaces, a bridge) and the binaries in
// $GATEHOUSE_CACHE/bin. One cluster runs per machine at a time: Start takes a
// host-wide lock and releases it in Stop, so concurrent test packages queue.
//
//	c, err := cluster.Start(ctx, cluster.Options{Channel: "standard", Log: os.Stderr})
//	defer c.Stop()
//
// See hack/cluster/README.md for ports, the network layout and how pod
// images map to local binaries.
package cluster
