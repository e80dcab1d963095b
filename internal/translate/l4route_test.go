package translate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/source"
)

// TestL4IRStreamEqualsSnapshot is TestIRStreamEqualsSnapshot restricted to
// the objects layer-4 routes depend on, so that TLSRoutes and TCPRoutes
// attach, move and go away often: the streamed IR (what proxies receive)
// must end equal to the snapshot, and L4Routes must have been streamed.
func TestL4IRStreamEqualsSnapshot(t *testing.T) {
	pool := variants(t)
	var keys []string
	for k := range pool {
		for _, prefix := range []string{"GatewayClass/", "Gateway/infra/g2", "TLSRoute/", "TCPRoute/", "Service/", "EndpointSlice/", "Secret/", "ReferenceGrant/"} {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
	}
	sortStrings(keys)
	sawL4 := false
	for seed := uint64(0); seed < 100; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		tr := New(DefaultControllerName)
		state := map[string]string{}
		tr.OnIR(func(c IRChange) {
			for _, id := range c.Removes {
				delete(state, id.String())
			}
			for _, u := range c.Upserts {
				sawL4 = sawL4 || u.ResourceID().Kind == ir.KindL4Route
				state[u.ResourceID().String()] = fmt.Sprintf("%+v", u)
			}
		})
		for batch := 0; batch < 30; batch++ {
			k := keys[r.IntN(len(keys))]
			ev := pool[k][r.IntN(len(pool[k]))]
			if r.IntN(5) == 0 {
				ev.Object = nil
			}
			tr.Apply([]source.Event{ev})
		}
		want := map[string]string{}
		for _, res := range tr.Snapshot().IR {
			want[res.ResourceID().String()] = fmt.Sprintf("%+v", res)
		}
		if fmt.Sprint(state) != fmt.Sprint(want) {
			t.Fatalf("seed %d: streamed IR\n%v\n!= snapshot\n%v", seed, state, want)
		}
	}
	if !sawL4 {
		t.Fatal("no L4Route was ever streamed: the variants do not exercise layer-4 routes")
	}
}
