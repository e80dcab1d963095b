package conformance

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientset "k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"
	"sigs.k8s.io/gateway-api/apis/v1alpha3"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/tests"
	conformanceconfig "sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/internal/translate"
)

// profiles are the conformance profiles to run: GATEWAY-HTTP always, and
// each other Gateway profile once its route kind is a claimed feature.
func profiles() []suite.ConformanceProfileName {
	out := []suite.ConformanceProfileName{suite.GatewayHTTPConformanceProfileName}
	byKind := map[features.FeatureName]suite.ConformanceProfileName{
		"GRPCRoute": suite.GatewayGRPCConformanceProfileName,
		"TLSRoute":  suite.GatewayTLSConformanceProfileName,
		"TCPRoute":  suite.GatewayTCPConformanceProfileName,
	}
	for _, f := range claimedFeatures() {
		if p, ok := byKind[f]; ok {
			out = append(out, p)
		}
	}
	return out
}

// claimedFeatures are the features Gatehouse claims (core and extended
// features of the GATEWAY-HTTP profile). The controller publishes them in
// the GatewayClass status.supportedFeatures; a full run infers the features
// from there, so the published list is what gets tested.
func claimedFeatures() []features.FeatureName {
	var out []features.FeatureName
	for _, f := range translate.SupportedFeatures {
		out = append(out, features.FeatureName(f))
	}
	return out
}

func TestConformance(t *testing.T) {
	if env.cluster == nil {
		t.Skip("set GATEHOUSE_CONFORMANCE=1")
	}
	ctrllog.SetLogger(logr.Discard())
	ctx := context.Background()

	cl, err := client.New(env.cluster.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, install := range []func(*runtime.Scheme) error{v1alpha3.Install, v1alpha2.Install, xv1alpha1.Install, gwv1.Install, apiextensionsv1.AddToScheme} {
		if err := install(cl.Scheme()); err != nil {
			t.Fatal(err)
		}
	}
	// Our GatewayClass; the suite needs it to exist and be Accepted.
	if err := cl.Create(ctx, &gwv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: gatewayClass},
		Spec:       gwv1.GatewayClassSpec{ControllerName: controllerName},
	}); err != nil {
		t.Fatal(err)
	}
	// The suite infers the features from status.supportedFeatures: wait for
	// the controller to publish them, and check they are what we claim.
	want := fmt.Sprint(sortedNames(claimedFeatures()))
	var got string
	deadline := time.Now().Add(60 * time.Second)
	for {
		var gc gwv1.GatewayClass
		if err := cl.Get(ctx, client.ObjectKey{Name: gatewayClass}, &gc); err == nil {
			var names []features.FeatureName
			for _, f := range gc.Status.SupportedFeatures {
				names = append(names, features.FeatureName(f.Name))
			}
			got = fmt.Sprint(sortedNames(names))
			if got == want {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GatewayClass status.supportedFeatures = %s, want %s", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cs, err := clientset.NewForConfig(env.cluster.Config)
	if err != nil {
		t.Fatal(err)
	}

	// A full run infers the features from the GatewayClass status (the
	// suite only does that without RunTest); a single test gets them here.
	var featureList []features.FeatureName
	if os.Getenv("GATEHOUSE_CONFORMANCE_RUN") != "" {
		featureList = claimedFeatures()
	} else {
		featureList = standardChannelFeatures() // channel_test.go
	}
	if s := os.Getenv("GATEHOUSE_CONFORMANCE_FEATURES"); s != "" {
		featureList = nil
		for _, f := range strings.Split(s, ",") {
			featureList = append(featureList, features.FeatureName(strings.TrimSpace(f)))
		}
	}
	runTest := os.Getenv("GATEHOUSE_CONFORMANCE_RUN")
	var skip []string
	if s := os.Getenv("GATEHOUSE_CONFORMANCE_SKIP"); s != "" {
		skip = strings.Split(s, ",")
	}
	report := ""
	if runTest == "" && len(skip) == 0 {
		report = os.Getenv("GATEHOUSE_CONFORMANCE_REPORT")
		if report == "" {
			report = filepath.Join(repoRoot, "conformance", "reports", "v1.6.3", "gatehouse.yaml")
		}
	}
	version := os.Getenv("GATEHOUSE_VERSION")
	if version == "" {
		version = "dev"
	}

	opts := suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     gatewayClass,
			CleanupBaseResources: true,
			CleanupTestResources: true,
			Mode:                 "default",
			TimeoutConfig:        conformanceconfig.DefaultTimeoutConfig(),
			SupportedFeatures:    featureList,
			SkipTests:            skip,
			RunTest:              runTest,
			ConformanceProfiles:  profiles(),
			// GatewayStaticAddresses: the harness's load balancer assigns
			// requested IPs from 10.244.0.0/24 (podsim's default pool on
			// the pod bridge), so one there is usable and TEST-NET-1 is not.
			UsableNetworkAddresses:   []gwv1.GatewaySpecAddress{{Type: new(gwv1.IPAddressType), Value: "10.244.0.200"}},
			UnusableNetworkAddresses: []gwv1.GatewaySpecAddress{{Type: new(gwv1.IPAddressType), Value: "192.0.2.1"}},
			Implementation: confv1.Implementation{
				Organization: "gatehouse",
				Project:      "gatehouse",
				URL:          "https://gatehouse.dev",
				Version:      version,
				Contact:      []string{"https://github.com/gatehouse-dev/gatehouse/issues"},
			},
		},
		Client:     cl,
		Clientset:  cs,
		RestConfig: env.cluster.Config,
		ManifestFS: []fs.FS{&conformance.Manifests},
		Hook: func(st *testing.T, test suite.ConformanceTest, _ *suite.ConformanceTestSuite) {
			r := "pass"
			switch {
			case st.Failed():
				r = "fail"
			case st.Skipped():
				r = "skip"
			}
			results.Lock()
			results.m[test.ShortName] = r
			results.Unlock()
		},
	}
	results.fullRun = runTest == "" && len(skip) == 0

	cSuite, err := suite.NewConformanceTestSuite(opts)
	if err != nil {
		t.Fatalf("conformance suite: %v", err)
	}
	if report != "" {
		t.Cleanup(func() {
			rep, err := cSuite.Report()
			if err != nil {
				t.Errorf("report: %v", err)
				return
			}
			b, err := yaml.Marshal(rep)
			if err != nil {
				t.Errorf("report: %v", err)
				return
			}
			if err := os.MkdirAll(filepath.Dir(report), 0o755); err != nil {
				t.Errorf("report: %v", err)
				return
			}
			if err := os.WriteFile(report, b, 0o644); err != nil {
				t.Errorf("report: %v", err)
				return
			}
			t.Logf("wrote conformance report %s", report)
		})
	}
	cSuite.Setup(t, tests.ConformanceTests)
	if err := cSuite.Run(t, tests.ConformanceTests); err != nil {
		t.Fatal(err)
	}
}

func sortedNames(in []features.FeatureName) []features.FeatureName {
	out := append([]features.FeatureName(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
