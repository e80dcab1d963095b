package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// GatewayAPIVersion is the bundle whose CRDs the harness installs; it must
// match sigs.k8s.io/gateway-api in go.mod (the conformance suite checks).
const GatewayAPIVersion = "v1.6.3"

const fieldManager = "gatehouse-cluster"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// GatewayAPICRDDir returns config/crd/<channel> of the Gateway API module
// in the module cache, downloading the module if it is missing.
func GatewayAPICRDDir(channel string) (string, error) {
	if channel != "standard" && channel != "experimental" {
		return "", fmt.Errorf("cluster: Channel %q: want standard or experimental", channel)
	}
	modcache := os.Getenv("GOMODCACHE")
	if modcache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", fmt.Errorf("cluster: go env GOMODCACHE: %w", err)
		}
		modcache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(modcache, "sigs.k8s.io", "gateway-api@"+GatewayAPIVersion, "config", "crd", channel)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	cmd := exec.Command("go", "mod", "download", "sigs.k8s.io/gateway-api@"+GatewayAPIVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cluster: go mod download gateway-api: %w: %s", err, out)
	}
	return dir, nil
}

// installCRDs applies the Gateway API CRDs of o.Channel and o.ExtraCRDDirs.
func (c *Cluster) installCRDs(ctx context.Context, o Options) error {
	gw, err := GatewayAPICRDDir(o.Channel)
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for _, dir := range append([]string{gw}, o.ExtraCRDDirs...) {
		found, err := readManifests(dir)
		if err != nil {
			return err
		}
		objs = append(objs, found...)
	}
	return c.Apply(ctx, objs...)
}

// Apply server-side applies objects: CRDs first (waiting until they are
// Established), then everything else, resolved through discovery.
func (c *Cluster) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	var crds, rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	if err := applyAll(ctx, crds, func(o *unstructured.Unstructured) error {
		_, err := dyn.Resource(crdGVR).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		return err
	}); err != nil {
		return err
	}
	if err := waitEstablished(ctx, dyn, crds); err != nil {
		return err
	}
	if len(rest) == 0 {
		return nil
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
	return applyAll(ctx, rest, func(o *unstructured.Unstructured) error {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		ri := dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ns := o.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			_, err = ri.Namespace(ns).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
			return err
		}
		_, err = ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		return err
	})
}

// applyAll runs apply for every object concurrently and joins the errors.
func applyAll(ctx context.Context, objs []*unstructured.Unstructured, apply func(*unstructured.Unstructured) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(objs))
	for i, o := range objs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := apply(o); err != nil {
				errs[i] = fmt.Errorf("apply %s %s: %w", o.GetKind(), o.GetName(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, crds []*unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, crd := range crds {
		for {
			got, err := dyn.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err == nil && established(got) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster: CRD %s not Established: %w", crd.GetName(), ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// readManifests decodes every YAML/JSON document in dir's *.yaml, *.yml and
// *.json files (not recursive). kustomization.yaml files are skipped.
func readManifests(dir string) ([]*unstructured.Unstructured, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cluster: manifests: %w", err)
	}
	var out []*unstructured.Unstructured
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") || strings.HasPrefix(name, "kustomization.") {
			continue
		}
		objs, err := DecodeManifests(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// DecodeManifests reads the Kubernetes objects of a multi-document YAML or
// JSON file; empty documents are skipped.
func DecodeManifests(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == "" {
			return nil, fmt.Errorf("%s: document without kind", path)
		}
		out = append(out, u)
	}
}
