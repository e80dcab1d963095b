package v1alpha1

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/randfill"
)

// TestDeepCopy fills every field of each type with random non-nil values,
// copies it, and checks that the copy is equal and shares no pointer, map or
// slice with the original: a field added to a type but not to its
// hand-written DeepCopy fails here.
func TestDeepCopy(t *testing.T) {
	newObjects := map[string]func() runtime.Object{
		"GatewayParameters":     func() runtime.Object { return &GatewayParameters{} },
		"GatewayParametersList": func() runtime.Object { return &GatewayParametersList{} },
		"StaticBackend":         func() runtime.Object { return &StaticBackend{} },
		"StaticBackendList":     func() runtime.Object { return &StaticBackendList{} },
		"TrafficPolicy":         func() runtime.Object { return &TrafficPolicy{} },
	}
	for name, newObject := range newObjects {
		t.Run(name, func(t *testing.T) {
			f := randfill.NewWithSeed(1).NilChance(0).NumElements(1, 3)
			for range 20 {
				orig := newObject()
				f.Fill(orig)
				cp := orig.DeepCopyObject()
				if !reflect.DeepEqual(orig, cp) {
					t.Fatalf("copy differs from the original:\n%+v\n%+v", orig, cp)
				}
				if path := sharedMemory(reflect.ValueOf(orig), reflect.ValueOf(cp), name); path != "" {
					t.Fatalf("copy shares memory with the original at %s", path)
				}
			}
		})
	}
	var nilParams *GatewayParameters
	if nilParams.DeepCopy() != nil || nilParams.DeepCopyObject() != nil {
		t.Errorf("DeepCopy of a nil *GatewayParameters is not nil")
	}
}

// sharedMemory returns the path of the first pointer, map or non-empty slice
// that a and b have in common, or "". A time.Time's *Location is immutable
// and shared by design.
func sharedMemory(a, b reflect.Value, path string) string {
	if a.Type() == reflect.TypeFor[time.Time]() {
		return ""
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		return sharedMemory(a.Elem(), b.Elem(), path)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return ""
		}
		return sharedMemory(a.Elem(), b.Elem(), path)
	case reflect.Map:
		if a.IsNil() || b.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		for _, k := range a.MapKeys() {
			if p := sharedMemory(a.MapIndex(k), b.MapIndex(k), path+"["+k.String()+"]"); p != "" {
				return p
			}
		}
	case reflect.Slice:
		if a.Len() == 0 || b.Len() == 0 {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		for i := range a.Len() {
			if p := sharedMemory(a.Index(i), b.Index(i), path+"[]"); p != "" {
				return p
			}
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if p := sharedMemory(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
				return p
			}
		}
	}
	return ""
}
