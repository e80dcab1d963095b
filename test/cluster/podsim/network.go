package podsim

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
)

// Every link and namespace the simulator creates carries one of these
// prefixes, so cleanup of a crashed run never touches anything else.
const (
	netnsPrefix = "ghpod-"
	vethPrefix  = "ghv-"
)

// ipCmd runs `ip args...` and returns its combined output in the error.
func ipCmd(ctx context.Context, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// network owns the bridge and hands out pod addresses from its prefix.
type network struct {
	bridge string
	host   netip.Prefix // host address on the bridge, with the pod prefix length

	mu   sync.Mutex
	used map[netip.Addr]bool
}

func newNetwork(bridge string, host netip.Prefix) *network {
	return &network{bridge: bridge, host: host, used: map[netip.Addr]bool{}}
}

// setUp removes leftovers of an earlier run and creates the bridge.
func (n *network) setUp(ctx context.Context) error {
	removeStale(ctx, n.bridge)
	for _, args := range [][]string{
		{"link", "add", n.bridge, "type", "bridge"},
		{"addr", "add", n.host.String(), "dev", n.bridge},
		{"link", "set", n.bridge, "up"},
	} {
		if err := ipCmd(ctx, args...); err != nil {
			return fmt.Errorf("bridge %s: %w", n.bridge, err)
		}
	}
	return nil
}

// tearDown deletes every pod namespace left and the bridge.
func (n *network) tearDown(ctx context.Context) {
	removeStale(ctx, n.bridge)
}

// removeStale deletes namespaces with our prefix and the bridge, if present.
func removeStale(ctx context.Context, bridge string) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			if strings.HasPrefix(name, netnsPrefix) {
				_ = ipCmd(ctx, "netns", "del", name)
			}
		}
	}
	if exec.CommandContext(ctx, "ip", "link", "show", bridge).Run() == nil {
		_ = ipCmd(ctx, "link", "del", bridge)
	}
}

// allocate returns a free pod address. x.y.0.0/24 is kept for the host side
// and .0/.255 host parts are skipped to keep addresses unsurprising.
func (n *network) allocate() (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	base := n.host.Masked().Addr().As4()
	for third := 1; third < 256; third++ {
		for fourth := 1; fourth < 255; fourth++ {
			a := netip.AddrFrom4([4]byte{base[0], base[1], byte(third), byte(fourth)})
			if !n.host.Contains(a) {
				return netip.Addr{}, fmt.Errorf("pod network %s exhausted", n.host.Masked())
			}
			if !n.used[a] {
				n.used[a] = true
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("pod network %s exhausted", n.host.Masked())
}

func (n *network) release(a netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.used, a)
}

// podLink names the namespace and host-side veth of a pod address; both are
// derived from the address so they are unique and fit IFNAMSIZ (15).
func podLink(a netip.Addr) (netns, veth string) {
	b := a.As4()
	suffix := fmt.Sprintf("%d-%d", b[2], b[3])
	return netnsPrefix + suffix, vethPrefix + suffix
}

// podMAC derives the pod interface's MAC address from its IP (locally
// administered, 02:42 + the four address bytes, as Docker does). Addresses
// are reused as soon as a pod goes; with a random MAC every reuse would leave
// the host and the other pods with a stale neighbour entry for the address,
// and packets to the new pod would vanish until it expired (tens of
// seconds), so probes and requests to a recreated pod hung.
func podMAC(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// addPod creates the pod's namespace, a veth pair into it (eth0 inside) on
// the bridge, the pod address and a default route via the host address.
func (n *network) addPod(ctx context.Context, a netip.Addr) (netns string, err error) {
	netns, veth := podLink(a)
	_ = ipCmd(ctx, "netns", "del", netns) // leftover with the same name
	steps := [][]string{
		{"netns", "add", netns},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "address", podMAC(a), "netns", netns},
		{"link", "set", veth, "master", n.bridge, "up"},
		{"-n", netns, "addr", "add", netip.PrefixFrom(a, n.host.Bits()).String(), "dev", "eth0"},
		{"-n", netns, "link", "set", "eth0", "up"},
		{"-n", netns, "link", "set", "lo", "up"},
		{"-n", netns, "route", "add", "default", "via", n.host.Addr().String()},
	}
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			n.removePod(context.WithoutCancel(ctx), a)
			return "", err
		}
	}
	return netns, nil
}

// removePod deletes the namespace; the veth pair goes with it.
func (n *network) removePod(ctx context.Context, a netip.Addr) {
	netns, veth := podLink(a)
	_ = ipCmd(ctx, "netns", "del", netns)
	if exec.CommandContext(ctx, "ip", "link", "show", veth).Run() == nil {
		_ = ipCmd(ctx, "link", "del", veth)
	}
}
