package podsim

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

func (s *Simulator) enqueueService(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		s.svcQ.Add(key)
	}
}

// enqueueServicesOf re-checks LoadBalancer services when pods change.
func (s *Simulator) enqueueServicesOf(ns string) {
	if s.services == nil {
		return
	}
	svcs, _ := s.services.Services(ns).List(labels.Everything())
	for _, svc := range svcs {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			s.enqueueService(svc)
		}
	}
}

// syncService gives a LoadBalancer Service the IP of one ready pod its
// selector matches (the first by name, so the choice is stable), or no
// ingress when none is ready. There is no load balancer: the "external"
// address is a pod address, reachable from the host over the bridge.
func (s *Simulator) syncService(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	svc, err := s.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Spec.Selector) == 0 {
		return err
	}
	pods, err := s.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	var want []corev1.LoadBalancerIngress
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.PodIP != "" && podReady(p) {
			want = []corev1.LoadBalancerIngress{{IP: p.Status.PodIP}}
			break
		}
	}
	if sameIngress(svc.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	svc = svc.DeepCopy()
	svc.Status.LoadBalancer.Ingress = want
	_, err = s.client.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		s.svcQ.AddRateLimited(key) // the informer has a newer copy; retry quietly
		return nil
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func sameIngress(a, b []corev1.LoadBalancerIngress) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].IP != b[i].IP || a[i].Hostname != b[i].Hostname {
			return false
		}
	}
	return true
}
