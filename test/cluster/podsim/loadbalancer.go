package podsim

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// loadBalancerIPsAnnotation is provision.LoadBalancerIPsAnnotation (not
// imported: provision's cluster tests import this package).
const loadBalancerIPsAnnotation = "gatehouse.dev/load-balancer-ips"

func (s *Simulator) enqueueService(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
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
//
// A Service that asks for IPs (the provisioner's load-balancer-ips
// annotation, or spec.loadBalancerIP) gets those inside LoadBalancerPool
// that no other Service holds, added to the chosen pod's interface so that
// they really reach it; the others are not assigned, as a load balancer
// that cannot provide an address leaves it out.
func (s *Simulator) syncService(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	svc, err := s.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		s.lb.release(ctx, key)
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Spec.Selector) == 0 {
		s.lb.release(ctx, key)
		return nil
	}
	pods, err := s.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	var chosen *corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.PodIP != "" && podReady(p) {
			chosen = p
			break
		}
	}
	var want []corev1.LoadBalancerIngress
	requested := requestedIPs(svc)
	switch {
	case chosen == nil:
		s.lb.release(ctx, key)
	case len(requested) == 0:
		s.lb.release(ctx, key)
		want = []corev1.LoadBalancerIngress{{IP: chosen.Status.PodIP}}
	default:
		netns := s.podNetns(chosen)
		if netns == "" {
			return fmt.Errorf("pod %s/%s has no network namespace yet", chosen.Namespace, chosen.Name)
		}
		var usable []netip.Addr
		for _, ip := range requested {
			if s.cfg.LoadBalancerPool.Contains(ip) && ip != s.cfg.HostPrefix.Addr() && s.lb.free(ip, key) {
				usable = append(usable, ip)
			}
		}
		if err := s.lb.assign(ctx, key, netns, usable); err != nil {
			return err
		}
		for _, ip := range usable {
			want = append(want, corev1.LoadBalancerIngress{IP: ip.String()})
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

// requestedIPs returns the IPs a Service asks its load balancer for.
func requestedIPs(svc *corev1.Service) []netip.Addr {
	list := svc.Annotations[loadBalancerIPsAnnotation]
	if list == "" {
		list = svc.Spec.LoadBalancerIP
	}
	var out []netip.Addr
	for _, v := range strings.Split(list, ",") {
		if ip, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
			out = append(out, ip)
		}
	}
	return out
}

// podNetns returns the network namespace of a pod this simulator runs.
func (s *Simulator) podNetns(p *corev1.Pod) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.running[p.Namespace+"/"+p.Name]; ok && st.uid == p.UID {
		return st.netns
	}
	return ""
}

// lbState records which Service holds which pool IPs, and in which pod's
// namespace they are configured.
type lbState struct {
	bySvc map[string]lbAssignment
	owner map[netip.Addr]string
}

type lbAssignment struct {
	netns string
	ips   []netip.Addr
}

func (l *lbState) free(ip netip.Addr, svc string) bool {
	owner, taken := l.owner[ip]
	return !taken || owner == svc
}

// assign makes ips (and only them) the addresses of svc, configured on eth0
// of netns.
func (l *lbState) assign(ctx context.Context, svc, netns string, ips []netip.Addr) error {
	old := l.bySvc[svc]
	if old.netns == netns && slices.Equal(old.ips, ips) {
		return nil
	}
	l.release(ctx, svc)
	if len(ips) == 0 {
		return nil
	}
	if l.bySvc == nil {
		l.bySvc, l.owner = map[string]lbAssignment{}, map[netip.Addr]string{}
	}
	for _, ip := range ips {
		if err := ipCmd(ctx, "-n", netns, "addr", "replace", netip.PrefixFrom(ip, ip.BitLen()).String(), "dev", "eth0"); err != nil {
			return err
		}
		// The address may have moved from another pod (another MAC): drop
		// the host's neighbour entry so the next packet asks again.
		_ = ipCmd(ctx, "neigh", "flush", "to", ip.String())
		l.owner[ip] = svc
	}
	l.bySvc[svc] = lbAssignment{netns: netns, ips: ips}
	return nil
}

// release removes svc's IPs; a namespace already deleted with its pod took
// them with it.
func (l *lbState) release(ctx context.Context, svc string) {
	old, ok := l.bySvc[svc]
	if !ok {
		return
	}
	for _, ip := range old.ips {
		_ = ipCmd(ctx, "-n", old.netns, "addr", "del", netip.PrefixFrom(ip, ip.BitLen()).String(), "dev", "eth0")
		delete(l.owner, ip)
	}
	delete(l.bySvc, svc)
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
