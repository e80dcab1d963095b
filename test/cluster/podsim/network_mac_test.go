package podsim

import (
	"net"
	"net/netip"
	"testing"
)

// TestPodMACFollowsTheAddress: a reused address gets the same MAC (so
// neighbour caches stay right), different addresses different MACs, and
// the MAC is a valid unicast, locally administered one.
func TestPodMACFollowsTheAddress(t *testing.T) {
	a, b := netip.MustParseAddr("10.244.1.2"), netip.MustParseAddr("10.244.1.3")
	if podMAC(a) != podMAC(a) || podMAC(a) == podMAC(b) {
		t.Fatalf("podMAC(%s) = %s, podMAC(%s) = %s", a, podMAC(a), b, podMAC(b))
	}
	hw, err := net.ParseMAC(podMAC(a))
	if err != nil {
		t.Fatal(err)
	}
	if hw[0]&1 != 0 || hw[0]&2 == 0 {
		t.Errorf("%s: want unicast and locally administered", hw)
	}
	if got := podMAC(a); got != "02:42:0a:f4:01:02" {
		t.Errorf("podMAC(%s) = %s", a, got)
	}
}
