package distribute

import (
	"context"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

func nextDelta(t *testing.T, s *Subscription) ir.Delta {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func hasPolicy(d ir.Delta, name string) bool {
	for _, r := range d.Upserts {
		if p, ok := r.(*ir.Policy); ok && p.Name == name {
			return true
		}
	}
	return false
}

// TestPoliciesReachOnlyTheirGateways: a proxy receives only the policies
// whose targets belong to its Gateway, also when a policy moves.
func TestPoliciesReachOnlyTheirGateways(t *testing.T) {
	h := NewHub()
	h.Publish([]ir.Resource{
		&ir.Listener{Name: "ns/a/http", Gateway: "ns/a"},
		&ir.Listener{Name: "ns/b/http", Gateway: "ns/b"},
		&ir.Policy{Name: "ns/p", Gateways: []string{"ns/a"}, Targets: []ir.PolicyTarget{{Kind: ir.TargetGateway, Name: "ns/a"}}},
	}, nil)
	sa, sb := h.SubscribeGateway("ns/a"), h.SubscribeGateway("ns/b")
	defer sa.Close()
	defer sb.Close()
	if d := nextDelta(t, sa); !hasPolicy(d, "ns/p") {
		t.Fatalf("gateway a did not get its policy: %+v", d)
	}
	if d := nextDelta(t, sb); hasPolicy(d, "ns/p") {
		t.Fatalf("gateway b got another gateway's policy")
	}
	h.Publish([]ir.Resource{&ir.Policy{Name: "ns/p", Gateways: []string{"ns/b"}}}, nil)
	if d := nextDelta(t, sa); len(d.Removes) != 1 || d.Removes[0] != (ir.ID{Kind: ir.KindPolicy, Name: "ns/p"}) {
		t.Fatalf("gateway a should lose the moved policy: %+v", d)
	}
	if d := nextDelta(t, sb); !hasPolicy(d, "ns/p") {
		t.Fatalf("gateway b should get the moved policy: %+v", d)
	}
}
