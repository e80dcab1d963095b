package podsim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podVolumes is the materialised volume set of a pod.
//
// Each volume is written to <root>/.volumes/<name>/ and every volumeMount
// becomes a symlink <root><mountPath> -> that directory (or its subPath).
// Containers see no mount namespace; instead the simulator rewrites
// container paths under a mountPath into <root> in env values, args and
// workingDir (rewrite). Projected service-account token volumes are also
// linked at <root>/var/run/secrets/tokens/<volume>/, and the first one not
// named kube-api-access-* becomes GATEHOUSE_TOKEN_FILE.
type podVolumes struct {
	root      string
	mounts    []string // container mount paths, longest first
	tokenFile string
}

// rewrite maps a container path under a mount into the pod root.
func (v *podVolumes) rewrite(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, v.root) {
		return p
	}
	for _, m := range v.mounts {
		if p == m || strings.HasPrefix(p, strings.TrimSuffix(m, "/")+"/") {
			return filepath.Join(v.root, p)
		}
	}
	return p
}

type tokenJob struct {
	file      string
	volume    string
	audience  string
	expiresIn int64
}

func (s *Simulator) writeVolumes(ctx context.Context, pod *corev1.Pod, p *podState) (*podVolumes, error) {
	vols := &podVolumes{root: p.root}
	var tokens []tokenJob
	for _, vol := range pod.Spec.Volumes {
		dir := filepath.Join(p.root, ".volumes", vol.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		jobs, err := s.writeVolume(ctx, pod, p, vol, dir)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", vol.Name, err)
		}
		tokens = append(tokens, jobs...)
	}
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range all {
		for _, m := range c.VolumeMounts {
			target := filepath.Join(p.root, ".volumes", m.Name, m.SubPath)
			if err := link(target, filepath.Join(p.root, m.MountPath)); err != nil {
				return nil, fmt.Errorf("volumeMount %s: %w", m.MountPath, err)
			}
			vols.mounts = append(vols.mounts, m.MountPath)
		}
		if c.WorkingDir != "" {
			vols.mounts = append(vols.mounts, c.WorkingDir)
		}
	}
	sort.Slice(vols.mounts, func(i, j int) bool { return len(vols.mounts[i]) > len(vols.mounts[j]) })
	for _, t := range tokens {
		if err := s.writeToken(ctx, pod, t); err != nil {
			return nil, err
		}
		_ = link(filepath.Dir(t.file), filepath.Join(p.root, "var/run/secrets/tokens", t.volume))
		if vols.tokenFile == "" && !strings.HasPrefix(t.volume, "kube-api-access-") {
			vols.tokenFile = t.file
		}
	}
	if vols.tokenFile == "" && len(tokens) > 0 {
		vols.tokenFile = tokens[0].file
	}
	if len(tokens) > 0 {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); s.refreshTokens(p.ctx, pod, tokens) }()
	}
	return vols, nil
}

// link creates a symlink at path to target unless something is there.
func link(target, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.Symlink(target, path)
}

func (s *Simulator) writeVolume(ctx context.Context, pod *corev1.Pod, p *podState, vol corev1.Volume, dir string) ([]tokenJob, error) {
	switch {
	case vol.Secret != nil:
		return nil, s.writeSecret(ctx, pod.Namespace, vol.Secret.SecretName, vol.Secret.Items, optional(vol.Secret.Optional), dir)
	case vol.ConfigMap != nil:
		return nil, s.writeConfigMap(ctx, pod.Namespace, vol.ConfigMap.Name, vol.ConfigMap.Items, optional(vol.ConfigMap.Optional), dir)
	case vol.DownwardAPI != nil:
		return nil, s.writeDownward(pod, p, vol.DownwardAPI.Items, dir)
	case vol.HostPath != nil:
		if err := os.Remove(dir); err != nil {
			return nil, err
		}
		return nil, os.Symlink(vol.HostPath.Path, dir)
	case vol.Projected != nil:
		var jobs []tokenJob
		for _, src := range vol.Projected.Sources {
			var err error
			switch {
			case src.Secret != nil:
				err = s.writeSecret(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, optional(src.Secret.Optional), dir)
			case src.ConfigMap != nil:
				err = s.writeConfigMap(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, optional(src.ConfigMap.Optional), dir)
			case src.DownwardAPI != nil:
				err = s.writeDownward(pod, p, src.DownwardAPI.Items, dir)
			case src.ServiceAccountToken != nil:
				t := src.ServiceAccountToken
				exp := int64(3600)
				if t.ExpirationSeconds != nil {
					exp = *t.ExpirationSeconds
				}
				jobs = append(jobs, tokenJob{file: filepath.Join(dir, t.Path), volume: vol.Name, audience: t.Audience, expiresIn: exp})
			}
			if err != nil {
				return nil, err
			}
		}
		return jobs, nil
	}
	return nil, nil // emptyDir and anything else: an empty directory
}

func (s *Simulator) writeSecret(ctx context.Context, ns, name string, items []corev1.KeyToPath, opt bool, dir string) error {
	sec, err := s.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && opt {
		return nil
	}
	if err != nil {
		return fmt.Errorf("secret %s: %w", name, err)
	}
	return writeKeys(dir, sec.Data, items)
}

// writeConfigMap tolerates a missing kube-root-ca.crt even when not optional:
// it only exists when KCM's root-ca-cert-publisher runs.
func (s *Simulator) writeConfigMap(ctx context.Context, ns, name string, items []corev1.KeyToPath, opt bool, dir string) error {
	cm, err := s.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && (opt || name == "kube-root-ca.crt") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("configMap %s: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return writeKeys(dir, data, items)
}

func writeKeys(dir string, data map[string][]byte, items []corev1.KeyToPath) error {
	if len(items) == 0 {
		for k, v := range data {
			if err := writeFileAtomic(filepath.Join(dir, k), v); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		if v, ok := data[it.Key]; ok {
			if err := writeFileAtomic(filepath.Join(dir, it.Path), v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Simulator) writeDownward(pod *corev1.Pod, p *podState, items []corev1.DownwardAPIVolumeFile, dir string) error {
	for _, it := range items {
		if it.FieldRef == nil {
			continue
		}
		v, err := s.fieldValue(pod, p, it.FieldRef.FieldPath)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dir, it.Path), []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

// writeToken requests a bound token for the pod's service account with the
// volume's audience (empty: the apiserver's default audiences).
func (s *Simulator) writeToken(ctx context.Context, pod *corev1.Pod, t tokenJob) error {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		ExpirationSeconds: &t.expiresIn,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if t.audience != "" {
		req.Spec.Audiences = []string{t.audience}
	}
	tok, err := s.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for serviceaccount %s/%s: %w", pod.Namespace, sa, err)
	}
	return writeFileAtomic(t.file, []byte(tok.Status.Token))
}

// refreshTokens renews tokens at 80% of their lifetime, like the kubelet.
func (s *Simulator) refreshTokens(ctx context.Context, pod *corev1.Pod, tokens []tokenJob) {
	shortest := tokens[0].expiresIn
	for _, t := range tokens {
		shortest = min(shortest, t.expiresIn)
	}
	tick := time.NewTicker(time.Duration(shortest) * time.Second * 8 / 10)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, t := range tokens {
			if err := s.writeToken(ctx, pod, t); err != nil && ctx.Err() == nil {
				s.log.Warn("token refresh failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			}
		}
	}
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
