package podsim

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// podState is what the simulator knows about a pod it runs. The API object
// is written from it (publishStatus), never the other way round.
type podState struct {
	key, namespace, name string
	uid                  types.UID
	ip                   netip.Addr
	netns                string
	root                 string // per-pod root: volumes, logs
	ctx                  context.Context
	cancel               context.CancelFunc
	wg                   sync.WaitGroup

	mu          sync.Mutex
	started     metav1.Time
	initialized bool
	containers  []*containerState
	publishMu   sync.Mutex // serialises status writes
}

func (p *podState) logPath(container string) string {
	return filepath.Join(p.root, "logs", container+".log")
}

// syncPod drives one pod towards what the simulator should do with it:
// bind it, start it, or finalise its deletion.
func (s *Simulator) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := s.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		s.stopPod(key, "")
		return nil
	}
	if err != nil {
		return err
	}
	if pod.DeletionTimestamp != nil {
		s.stopPod(key, "")
		return s.forceDelete(ctx, pod)
	}
	if pod.Spec.NodeName == "" {
		return s.bind(ctx, pod)
	}
	if pod.Spec.NodeName != s.cfg.NodeName {
		return nil
	}
	s.stopPod(key, pod.UID) // a stale pod of the same name, if any
	s.mu.Lock()
	_, running := s.running[key]
	s.mu.Unlock()
	if running || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	return s.startPod(ctx, pod)
}

func (s *Simulator) bind(ctx context.Context, pod *corev1.Pod) error {
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: s.cfg.NodeName},
	}, metav1.CreateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // bound meanwhile, or gone; the next event says which
	}
	if err != nil {
		return fmt.Errorf("bind %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// forceDelete finalises a terminating pod the way a kubelet would once its
// containers are gone; without it namespaces hang in Terminating.
func (s *Simulator) forceDelete(ctx context.Context, pod *corev1.Pod) error {
	zero := int64(0)
	err := s.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// startPod sets up the network and the pod root and launches the pod's
// containers in the background; status follows as they come up.
func (s *Simulator) startPod(ctx context.Context, pod *corev1.Pod) error {
	ip, err := s.net.allocate()
	if err != nil {
		return err
	}
	netns, err := s.net.addPod(ctx, ip)
	if err != nil {
		s.net.release(ip)
		return fmt.Errorf("pod %s/%s network: %w", pod.Namespace, pod.Name, err)
	}
	pctx, cancel := context.WithCancel(s.ctx)
	p := &podState{
		key: pod.Namespace + "/" + pod.Name, namespace: pod.Namespace, name: pod.Name, uid: pod.UID,
		ip: ip, netns: netns, ctx: pctx, cancel: cancel, started: metav1.Now(),
		root: filepath.Join(s.cfg.Dir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)),
	}
	for _, c := range pod.Spec.Containers {
		p.containers = append(p.containers, &containerState{spec: c})
	}
	s.mu.Lock()
	s.running[p.key] = p
	s.mu.Unlock()
	s.log.Info("starting pod", "pod", p.key, "ip", ip, "netns", netns)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := s.runPod(pod.DeepCopy(), p); err != nil && pctx.Err() == nil {
			s.log.Error("pod failed to start", "pod", p.key, "err", err)
			s.publishStatus(p, err)
		}
	}()
	return nil
}

// stopPod tears down the running pod under key unless its UID is keep.
func (s *Simulator) stopPod(key string, keep types.UID) {
	s.mu.Lock()
	p := s.running[key]
	if p == nil || (keep != "" && p.uid == keep) {
		s.mu.Unlock()
		return
	}
	delete(s.running, key)
	s.mu.Unlock()
	s.teardownPod(context.Background(), p)
}

func (s *Simulator) teardownPod(ctx context.Context, p *podState) {
	s.log.Info("stopping pod", "pod", p.key)
	p.cancel()
	p.mu.Lock()
	containers := p.containers
	p.mu.Unlock()
	for _, c := range containers {
		c.kill()
	}
	p.wg.Wait()
	s.net.removePod(ctx, p.ip)
	s.net.release(p.ip)
	_ = os.RemoveAll(p.root)
}
