package file

import (
	"testing"
)

// FuzzDecode checks that no input makes Decode panic, and that what it
// returns keeps the contract: accepted objects are named and typed,
// problems name the file and say something.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(allKinds), false)
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"a":"b"}}]}`), true)
	f.Fuzz(func(t *testing.T, data []byte, asJSON bool) {
		path := "fuzz.yaml"
		if asJSON {
			path = "fuzz.json"
		}
		objs, problems := Decode(path, data)
		for _, o := range objs {
			gvk := o.GetObjectKind().GroupVersionKind()
			if o.GetName() == "" || gvk.Kind == "" || gvk.Version == "" || o.GetGeneration() == 0 {
				t.Errorf("accepted an incomplete object: %s %q generation %d", gvk, o.GetName(), o.GetGeneration())
			}
			if info := kinds[gvk.Kind]; info == nil || info.namespaced != (o.GetNamespace() != "") {
				t.Errorf("%s %q: namespace %q does not match the kind's scope", gvk.Kind, o.GetName(), o.GetNamespace())
			}
		}
		for _, p := range problems {
			if p.File != path || p.Message == "" || p.Document < 1 {
				t.Errorf("incomplete problem: %+v", p)
			}
		}
	})
}
