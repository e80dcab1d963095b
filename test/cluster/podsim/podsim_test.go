package podsim

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/internal/provision"
)

// TestRequestedIPs: the load balancer reads the IPs the provisioner asks
// for, from its annotation first, else spec.loadBalancerIP.
func TestRequestedIPs(t *testing.T) {
	if loadBalancerIPsAnnotation != provision.LoadBalancerIPsAnnotation {
		t.Fatalf("annotation %q, the provisioner writes %q", loadBalancerIPsAnnotation, provision.LoadBalancerIPsAnnotation)
	}
	svc := func(annotation, lbIP string) *corev1.Service {
		s := &corev1.Service{Spec: corev1.ServiceSpec{LoadBalancerIP: lbIP}}
		if annotation != "" {
			s.ObjectMeta = metav1.ObjectMeta{Annotations: map[string]string{loadBalancerIPsAnnotation: annotation}}
		}
		return s
	}
	for _, tc := range []struct {
		svc  *corev1.Service
		want []string
	}{
		{svc("", ""), nil},
		{svc("", "10.244.0.9"), []string{"10.244.0.9"}},
		{svc("192.0.2.1, 10.244.0.200,junk", "10.244.0.9"), []string{"192.0.2.1", "10.244.0.200"}},
	} {
		var got []string
		for _, ip := range requestedIPs(tc.svc) {
			got = append(got, ip.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("requestedIPs = %v, want %v", got, tc.want)
		}
	}
}

func TestImageRepository(t *testing.T) {
	for in, want := range map[string]string{
		"registry.k8s.io/gateway-api/echo-basic:v1.5.1": "registry.k8s.io/gateway-api/echo-basic",
		"localhost:5000/gatehouse":                      "localhost:5000/gatehouse",
		"localhost:5000/gatehouse:dev":                  "localhost:5000/gatehouse",
		"ghcr.io/x/y@sha256:abcd":                       "ghcr.io/x/y",
		"ghcr.io/x/y:v1@sha256:abcd":                    "ghcr.io/x/y",
		"busybox":                                       "busybox",
	} {
		if got := imageRepository(in); got != want {
			t.Errorf("imageRepository(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContainerArgv(t *testing.T) {
	vols := &podVolumes{root: "/pods/p", mounts: []string{"/var/run/secrets/tokens/gh", "/etc/tls"}}
	for _, tc := range []struct {
		name string
		c    corev1.Container
		want []string
	}{
		{"entrypoint", corev1.Container{Image: "r/echo-basic:v1", Args: []string{"-v"}}, []string{"/bin/echo-basic", "-v"}},
		{"command is entrypoint by image name", corev1.Container{Image: "r/gatehouse:v1", Command: []string{"/gatehouse", "proxy"}},
			[]string{"/bin/echo-basic", "proxy"}},
		{"command is binary name", corev1.Container{Image: "r/other", Command: []string{"echo-basic"}}, []string{"/bin/echo-basic"}},
		{"foreign command runs as is", corev1.Container{Image: "r/x", Command: []string{"sh", "-c", "true"}}, []string{"sh", "-c", "true"}},
		{"paths rewritten", corev1.Container{Image: "r/echo-basic", Args: []string{"--token=/var/run/secrets/tokens/gh/token", "/etc/tls/tls.crt", "/etc/other", "--x=y"}},
			[]string{"/bin/echo-basic", "--token=/pods/p/var/run/secrets/tokens/gh/token", "/pods/p/etc/tls/tls.crt", "/etc/other", "--x=y"}},
	} {
		if got := containerArgv(tc.c, "/bin/echo-basic", vols.rewrite); !slices.Equal(got, tc.want) {
			t.Errorf("%s: argv = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"plain":      "plain",
		"$(A)-$(B)":  "1-two",
		"$$(A)":      "$(A)",
		"$(MISSING)": "$(MISSING)",
		"x$(A":       "x$(A",
		"cost $5":    "cost $5",
	} {
		if got := expandVars(in, vars); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLastLines(t *testing.T) {
	data := []byte("a\nb\nc\n")
	for n, want := range map[int]string{0: "", 1: "c\n", 2: "b\nc\n", 3: "a\nb\nc\n", 10: "a\nb\nc\n"} {
		if got := string(lastLines(data, n)); got != want {
			t.Errorf("lastLines(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAllocateAndPodLink(t *testing.T) {
	n := newNetwork("gh-br0", netip.MustParsePrefix("10.244.0.1/16"))
	a, _ := n.allocate()
	b, _ := n.allocate()
	if a.String() != "10.244.1.1" || b.String() != "10.244.1.2" {
		t.Fatalf("allocated %s, %s; want 10.244.1.1, 10.244.1.2", a, b)
	}
	n.release(a)
	if c, _ := n.allocate(); c != a {
		t.Errorf("released address not reused: got %s", c)
	}
	ns, veth := podLink(netip.MustParseAddr("10.244.255.254"))
	if ns != "ghpod-255-254" || veth != "ghv-255-254" || len(veth) > 15 {
		t.Errorf("podLink = %q, %q", ns, veth)
	}
}
