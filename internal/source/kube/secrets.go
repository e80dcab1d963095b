package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"gatehouse.dev/gatehouse/internal/source"
)

// nsInformer is one namespace's TLS Secret informer.
type nsInformer struct {
	cancel context.CancelFunc
	store  cache.Store
	synced cache.InformerSynced
}

// WaitSecretsSynced blocks until every running TLS Secret informer has
// listed its namespace, then delivers what they found to the sink.
func (s *Source) WaitSecretsSynced(ctx context.Context) error {
	s.secretsMu.Lock()
	var synced []cache.InformerSynced
	for _, inf := range s.secrets {
		synced = append(synced, inf.synced)
	}
	for _, inf := range s.namedSecrets {
		synced = append(synced, inf.synced)
	}
	s.secretsMu.Unlock()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	s.flush()
	return nil
}

// WatchSecretNamespaces sets the namespaces whose kubernetes.io/tls Secrets
// are watched: informers start for new namespaces and stop (deleting their
// Secrets from the sink) for namespaces no longer listed. The controller calls
// it with the namespaces of the Secrets that listeners reference, so Secrets
// nobody references are never fetched.
func (s *Source) WatchSecretNamespaces(ctx context.Context, namespaces []string) {
	want := map[string]bool{}
	for _, ns := range namespaces {
		want[ns] = true
	}
	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	for ns, inf := range s.secrets {
		if !want[ns] {
			inf.cancel()
			for _, obj := range inf.store.List() {
				s.enqueue(source.KindSecret, obj, true)
			}
			delete(s.secrets, ns)
		}
	}
	for ns := range want {
		if _, running := s.secrets[ns]; running {
			continue
		}
		f := informers.NewSharedInformerFactoryWithOptions(s.Kube, 0, informers.WithNamespace(ns),
			informers.WithTransform(stripObject),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "type=kubernetes.io/tls" }))
		inf := f.Core().V1().Secrets().Informer()
		s.watch(inf, source.KindSecret)
		nctx, cancel := context.WithCancel(ctx)
		f.Start(nctx.Done())
		s.secrets[ns] = &nsInformer{cancel: cancel, store: inf.GetStore(), synced: inf.HasSynced}
		s.log.Debug("watching TLS Secrets", "namespace", ns)
	}
}

func (s *Source) stopAllSecrets() {
	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	for ns, inf := range s.secrets {
		inf.cancel()
		delete(s.secrets, ns)
	}
	for key, inf := range s.namedSecrets {
		inf.cancel()
		delete(s.namedSecrets, key)
	}
}
