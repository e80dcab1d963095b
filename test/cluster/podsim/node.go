package podsim

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// registerNode creates (or refreshes) the fake node. Its only address is
// the kubelet's loopback address, so the apiserver reaches the fake kubelet
// there for logs; pods see the bridge address as status.hostIP instead.
func (s *Simulator) registerNode(ctx context.Context) error {
	host, portStr, err := net.SplitHostPort(s.cfg.KubeletAddr)
	if err != nil {
		return fmt.Errorf("podsim: KubeletAddr %q: %w", s.cfg.KubeletAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("podsim: KubeletAddr %q: %w", s.cfg.KubeletAddr, err)
	}
	nodes := s.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, s.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: s.cfg.NodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname": s.cfg.NodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "gatehouse-podsim",
			},
		}}, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("podsim: node %s: %w", s.cfg.NodeName, err)
	}
	now := metav1.Now()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("1000"),
	}
	node.Status = corev1.NodeStatus{
		Capacity:        capacity,
		Allocatable:     capacity,
		Phase:           corev1.NodeRunning,
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "gatehouse pod simulator", LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion: "v1.36.3", OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "gatehouse-podsim://1",
		},
	}
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("podsim: node %s status: %w", s.cfg.NodeName, err)
	}
	return nil
}
