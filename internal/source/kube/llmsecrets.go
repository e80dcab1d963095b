package kube

import (
	"context"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"

	"gatehouse.dev/gatehouse/internal/source"
)

// WatchNamedSecrets sets the individual Secrets ("namespace/name") watched
// besides the kubernetes.io/tls ones: the API keys of LLM backends, usually
// Opaque. Each gets an informer limited to that one name (and to types other
// than kubernetes.io/tls, which WatchSecretNamespaces delivers, so the two
// never hold the same object); Secrets no longer listed are dropped from the
// sink. Nothing else in the namespace is fetched.
func (s *Source) WatchNamedSecrets(ctx context.Context, keys []string) {
	want := map[string]bool{}
	for _, k := range keys {
		if ns, name, ok := strings.Cut(k, "/"); ok && ns != "" && name != "" {
			want[k] = true
		}
	}
	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	if s.namedSecrets == nil {
		s.namedSecrets = map[string]*nsInformer{}
	}
	for key, inf := range s.namedSecrets {
		if !want[key] {
			inf.cancel()
			for _, obj := range inf.store.List() {
				s.enqueue(source.KindSecret, obj, true)
			}
			delete(s.namedSecrets, key)
		}
	}
	for key := range want {
		if _, running := s.namedSecrets[key]; running {
			continue
		}
		ns, name, _ := strings.Cut(key, "/")
		selector := fields.AndSelectors(fields.OneTermEqualSelector("metadata.name", name),
			fields.OneTermNotEqualSelector("type", "kubernetes.io/tls")).String()
		f := informers.NewSharedInformerFactoryWithOptions(s.Kube, 0, informers.WithNamespace(ns),
			informers.WithTransform(stripObject),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = selector }))
		inf := f.Core().V1().Secrets().Informer()
		s.watch(inf, source.KindSecret)
		nctx, cancel := context.WithCancel(ctx)
		f.Start(nctx.Done())
		s.namedSecrets[key] = &nsInformer{cancel: cancel, store: inf.GetStore(), synced: inf.HasSynced}
		s.log.Debug("watching Secret", "secret", key)
	}
}
