package podsim

import (
	"context"
	"errors"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// publishStatus writes the pod status built from the simulator's state.
// startErr, if set, reports the pod as failed to start.
func (s *Simulator) publishStatus(p *podState, startErr error) {
	p.publishMu.Lock()
	defer p.publishMu.Unlock()
	if p.ctx.Err() != nil {
		return
	}
	ctx := p.ctx
	write := func() error {
		pod, err := s.client.CoreV1().Pods(p.namespace).Get(ctx, p.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.UID != p.uid || pod.DeletionTimestamp != nil {
			return nil
		}
		pod.Status = s.buildStatus(pod, p, startErr)
		_, err = s.client.CoreV1().Pods(p.namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	}
	// A change (a container became ready, exited) is published once; if the
	// write were dropped while the apiserver is away, the pod would stay
	// stale until its next change, maybe forever. So besides the quick
	// conflict retries, transient failures are retried until the write
	// lands or the pod goes away.
	writeRetryingConflicts := func() error { return retry.RetryOnConflict(retry.DefaultRetry, write) }
	err := retryTransient(ctx, 200*time.Millisecond, 5*time.Second, writeRetryingConflicts, func(err error) {
		s.log.Warn("pod status update failed, retrying", "pod", p.key, "err", err)
	})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.Warn("pod status update failed", "pod", p.key, "err", err)
	}
}

// retryTransient calls f until it succeeds, fails with an error that is not
// transient, or ctx ends, waiting first between attempts and doubling the
// wait up to most. onRetry sees each transient failure.
func retryTransient(ctx context.Context, first, most time.Duration, f func() error, onRetry func(error)) error {
	wait := first
	for {
		err := f()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		onRetry(err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}

// transient reports whether err says the apiserver is unreachable, not
// ready or raced with another writer, rather than that the request is
// wrong: a transport error (connection refused or reset, EOF), a conflict,
// 429, 500, 503 or a timeout.
func transient(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return apierrors.IsConflict(err) || apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err)
}

func (s *Simulator) buildStatus(pod *corev1.Pod, p *podState, startErr error) corev1.PodStatus {
	p.mu.Lock()
	initialized := p.initialized
	p.mu.Unlock()
	st := corev1.PodStatus{
		Phase:     corev1.PodPending,
		HostIP:    s.HostIP(),
		HostIPs:   []corev1.HostIP{{IP: s.HostIP()}},
		PodIP:     p.ip.String(),
		PodIPs:    []corev1.PodIP{{IP: p.ip.String()}},
		StartTime: &p.started,
		QOSClass:  pod.Status.QOSClass,
	}
	allReady, anyRunning, allExited, anyFailed := true, false, true, false
	for _, c := range p.containers {
		cs := c.status()
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		allReady = allReady && cs.Ready
		anyRunning = anyRunning || cs.State.Running != nil
		allExited = allExited && cs.State.Terminated != nil
		anyFailed = anyFailed || (cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0)
	}
	switch {
	case startErr != nil:
		st.Phase, st.Reason, st.Message = corev1.PodFailed, "SimulatorError", startErr.Error()
		allReady = false
	case anyRunning:
		st.Phase = corev1.PodRunning
	case allExited && anyFailed:
		st.Phase = corev1.PodFailed
	case allExited && initialized:
		st.Phase = corev1.PodSucceeded
	}
	st.Conditions = []corev1.PodCondition{
		condition(pod, corev1.PodScheduled, true),
		condition(pod, corev1.PodReadyToStartContainers, true),
		condition(pod, corev1.PodInitialized, initialized),
		condition(pod, corev1.ContainersReady, allReady && initialized),
		condition(pod, corev1.PodReady, allReady && initialized),
	}
	return st
}

// condition keeps the transition time of an unchanged condition.
func condition(pod *corev1.Pod, t corev1.PodConditionType, ok bool) corev1.PodCondition {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	c := corev1.PodCondition{Type: t, Status: status, LastTransitionTime: metav1.Now()}
	for _, old := range pod.Status.Conditions {
		if old.Type == t && old.Status == status {
			c.LastTransitionTime = old.LastTransitionTime
		}
	}
	return c
}

func (c *containerState) status() corev1.ContainerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	started := c.running
	cs := corev1.ContainerStatus{
		Name:    c.spec.Name,
		Image:   c.spec.Image,
		ImageID: "podsim://" + c.binary,
		Ready:   c.ready,
		Started: &started,
	}
	if c.cmd != nil && c.cmd.Process != nil {
		cs.ContainerID = "podsim://" + strconv.Itoa(c.cmd.Process.Pid)
	}
	switch {
	case c.exited:
		cs.State.Terminated = &corev1.ContainerStateTerminated{
			ExitCode: c.exitCode, StartedAt: c.startedAt, FinishedAt: c.finishedAt, Reason: exitReason(c.exitCode),
		}
	case c.running:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: c.startedAt}
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	return cs
}

func exitReason(code int32) string {
	if code == 0 {
		return "Completed"
	}
	return "Error"
}
