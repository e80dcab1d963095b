package kube

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"gatehouse.dev/gatehouse/internal/source"
)

type recordingSink struct {
	mu     sync.Mutex
	events []source.Event
}

func (r *recordingSink) Apply(evs []source.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
}

func (r *recordingSink) has(name string, deleted bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == source.KindSecret && e.Name == name && (e.Object == nil) == deleted {
			return true
		}
	}
	return false
}

// TestWatchNamedSecrets: a referenced Opaque Secret is listed and watched by
// name only (not every Secret of the namespace), delivered to the sink, and
// deleted from it once no longer referenced.
func TestWatchNamedSecrets(t *testing.T) {
	client := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "openai"},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"api-key": []byte("sk")}})
	sink := &recordingSink{}
	s := &Source{Kube: client, sink: sink, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		signal: make(chan struct{}, 1), secrets: map[string]*nsInformer{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer s.stopAllSecrets()

	s.WatchNamedSecrets(ctx, []string{"ai/openai", "not-a-key"})
	if err := s.WaitSecretsSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if !sink.has("openai", false) {
		t.Fatal("the referenced Secret was not delivered")
	}
	var selector string
	for _, a := range client.Actions() {
		if l, ok := a.(k8stesting.ListActionImpl); ok && l.GetResource().Resource == "secrets" {
			selector = l.GetListRestrictions().Fields.String()
			if l.GetNamespace() != "ai" {
				t.Errorf("listed Secrets in namespace %q, want ai", l.GetNamespace())
			}
		}
	}
	if !strings.Contains(selector, "metadata.name=openai") || !strings.Contains(selector, "type!=kubernetes.io/tls") {
		t.Errorf("field selector %q does not name the one Secret (and exclude TLS Secrets)", selector)
	}

	s.WatchNamedSecrets(ctx, nil)
	s.flush()
	deadline := time.Now().Add(5 * time.Second)
	for !sink.has("openai", true) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		s.flush()
	}
	if !sink.has("openai", true) {
		t.Error("the Secret was not removed from the sink once unreferenced")
	}
}
