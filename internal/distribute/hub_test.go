package distribute

import (
	"context"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

func next(t *testing.T, s *Subscription) ir.Delta {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return d
}

func names(rs []ir.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ResourceID().String())
	}
	return out
}

func TestSubscriptionGetsFullStateThenDeltas(t *testing.T) {
	h := NewHub()
	h.Publish([]ir.Resource{&ir.Bind{Name: ":80"}, &ir.Route{Name: "a"}}, nil)
	s := h.Subscribe()
	defer s.Close()
	d := next(t, s)
	if got := names(d.Upserts); len(got) != 2 || got[0] != "Bind/:80" || got[1] != "Route/a" {
		t.Fatalf("first delta %v", got)
	}
	h.Publish([]ir.Resource{&ir.Route{Name: "b"}}, nil)
	d = next(t, s)
	if got := names(d.Upserts); len(got) != 1 || got[0] != "Route/b" || d.Version != 2 {
		t.Fatalf("second delta %v v%d", got, d.Version)
	}
}

func TestChangesCoalesceWhileProxyIsBusy(t *testing.T) {
	h := NewHub()
	s := h.Subscribe()
	defer s.Close()
	next(t, s) // empty initial state
	h.Publish([]ir.Resource{&ir.Route{Name: "a", RuleIndex: 1}}, nil)
	h.Publish([]ir.Resource{&ir.Route{Name: "a", RuleIndex: 2}}, nil)
	h.Publish([]ir.Resource{&ir.Route{Name: "b"}}, nil)
	h.Publish(nil, []ir.ID{{Kind: ir.KindRoute, Name: "b"}})
	d := next(t, s)
	if len(d.Upserts) != 1 || d.Upserts[0].(*ir.Route).RuleIndex != 2 {
		t.Fatalf("upserts %v", names(d.Upserts))
	}
	if len(d.Removes) != 1 || d.Removes[0].Name != "b" {
		t.Fatalf("removes %v", d.Removes)
	}
	if h.Len() != 1 {
		t.Fatalf("hub holds %d resources, want 1", h.Len())
	}
}

func TestNextHonoursContext(t *testing.T) {
	h := NewHub()
	s := h.Subscribe()
	next(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); err == nil {
		t.Fatal("Next returned without changes")
	}
}
