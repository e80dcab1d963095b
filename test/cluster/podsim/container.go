package podsim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerState is the simulator's record of one container.
type containerState struct {
	spec corev1.Container

	mu         sync.Mutex
	binary     string // "" when the image is not mapped: no process
	cmd        *exec.Cmd
	startedAt  metav1.Time
	running    bool
	ready      bool
	exited     bool
	exitCode   int32
	finishedAt metav1.Time
	done       chan struct{} // closed when the process has exited
}

func (c *containerState) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	// The process leads its own group (Setpgid), so this reaches its children.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// runPod materialises volumes, runs init containers to completion, then
// starts the containers and waits for each to become ready.
func (s *Simulator) runPod(pod *corev1.Pod, p *podState) error {
	// Like the kubelet, wait for a Secret or ConfigMap a volume needs to
	// appear (Setup code often creates them after the Deployment), instead of
	// failing the pod.
	var vols *podVolumes
	for wait := 100 * time.Millisecond; ; {
		var err error
		vols, err = s.writeVolumes(p.ctx, pod, p)
		if err == nil {
			break
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		select {
		case <-p.ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if wait < 2*time.Second {
			wait *= 2
		}
	}
	if err := os.MkdirAll(filepath.Join(p.root, "logs"), 0o755); err != nil {
		return err
	}
	s.publishStatus(p, nil)
	for _, ic := range pod.Spec.InitContainers {
		c := &containerState{spec: ic}
		if err := s.startContainer(pod, p, c, vols); err != nil {
			return fmt.Errorf("init container %s: %w", ic.Name, err)
		}
		if c.done != nil {
			select {
			case <-c.done:
			case <-p.ctx.Done():
				c.kill()
				return nil
			}
			if c.exitCode != 0 {
				return fmt.Errorf("init container %s exited with %d", ic.Name, c.exitCode)
			}
		}
	}
	p.mu.Lock()
	p.initialized = true
	p.mu.Unlock()
	for _, c := range p.containers {
		if err := s.startContainer(pod, p, c, vols); err != nil {
			return fmt.Errorf("container %s: %w", c.spec.Name, err)
		}
	}
	s.publishStatus(p, nil)
	for _, c := range p.containers {
		c := c
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if s.waitReady(p, c) {
				c.mu.Lock()
				c.ready = !c.exited
				c.mu.Unlock()
				s.publishStatus(p, nil)
			}
		}()
	}
	return nil
}

// startContainer launches the container's process inside the pod's network
// namespace, or records a process-less running container for unknown images.
func (s *Simulator) startContainer(pod *corev1.Pod, p *podState, c *containerState, vols *podVolumes) error {
	bin := s.binaryFor(c.spec.Image)
	c.mu.Lock()
	c.binary = bin
	c.startedAt = metav1.Now()
	c.running = true
	c.mu.Unlock()
	if bin == "" {
		s.log.Info("image not mapped, container runs no process", "pod", p.key, "container", c.spec.Name, "image", c.spec.Image)
		return nil
	}
	env, err := s.containerEnv(p.ctx, pod, p, &c.spec, vols)
	if err != nil {
		return err
	}
	argv := containerArgv(c.spec, bin, vols.rewrite)
	logf, err := os.OpenFile(p.logPath(c.spec.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.netns}, argv...)...)
	cmd.Env = env
	cmd.Dir = p.root
	if c.spec.WorkingDir != "" {
		cmd.Dir = vols.rewrite(c.spec.WorkingDir)
		_ = os.MkdirAll(cmd.Dir, 0o755)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.log.Info("container started", "pod", p.key, "container", c.spec.Name, "pid", cmd.Process.Pid, "argv", argv)
	done := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.done = cmd, done
	c.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		code := int32(0)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = int32(ee.ExitCode())
		}
		c.mu.Lock()
		c.running, c.ready, c.exited, c.exitCode, c.finishedAt = false, false, true, code, metav1.Now()
		c.mu.Unlock()
		close(done)
		if p.ctx.Err() == nil {
			s.log.Info("container exited", "pod", p.key, "container", c.spec.Name, "code", code)
			s.publishStatus(p, nil)
		}
	}()
	return nil
}

// binaryFor maps an image to a local binary: first the full reference,
// then the repository without tag or digest.
func (s *Simulator) binaryFor(image string) string {
	if b, ok := s.cfg.Images[image]; ok {
		return b
	}
	return s.cfg.Images[imageRepository(image)]
}

// imageRepository strips the digest and tag from an image reference.
func imageRepository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// containerArgv builds the process argv from command+args. An empty command
// means the image entrypoint, i.e. the mapped binary. A command naming the
// entrypoint (same base name as the binary or the image) is replaced by the
// binary; any other command runs as is from the host PATH. Arguments that
// are container paths under a volume mount are rewritten into the pod root.
func containerArgv(c corev1.Container, bin string, rewrite func(string) string) []string {
	var argv []string
	switch {
	case len(c.Command) == 0:
		argv = append([]string{bin}, c.Args...)
	default:
		argv = append(append([]string{}, c.Command...), c.Args...)
		base := filepath.Base(c.Command[0])
		if base == filepath.Base(bin) || base == filepath.Base(imageRepository(c.Image)) {
			argv[0] = bin
		}
	}
	for i := 1; i < len(argv); i++ {
		argv[i] = rewriteArg(argv[i], rewrite)
	}
	return argv
}

// rewriteArg rewrites a path argument or the value of a --flag=path one.
func rewriteArg(arg string, rewrite func(string) string) string {
	if name, val, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(name, "-") {
		return name + "=" + rewrite(val)
	}
	return rewrite(arg)
}

// waitReady blocks until the container is ready: its readinessProbe
// passes, or without a probe its first TCP port accepts, or at once when it
// has neither or runs no process. It returns false if the pod went away or
// the process exited first.
func (s *Simulator) waitReady(p *podState, c *containerState) bool {
	c.mu.Lock()
	done, bin := c.done, c.binary
	c.mu.Unlock()
	if bin == "" || done == nil {
		return true
	}
	check := readinessCheck(c.spec, p.ip.String())
	if check == nil {
		return true
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if check(p.ctx) {
			return true
		}
		select {
		case <-p.ctx.Done():
			return false
		case <-done:
			return false
		case <-tick.C:
		}
	}
}
