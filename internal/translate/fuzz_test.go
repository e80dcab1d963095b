package translate

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// FuzzTranslate feeds arbitrary config through decode and translation. It
// must never panic, and the IR must be self-consistent: every route parent
// names a listener in the IR, every valid backend reference names a backend
// in the IR, and every listener names a bind in the IR.
func FuzzTranslate(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		input, _, _ := bytes.Cut(data, []byte(goldenMarker))
		f.Add(input)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, _ := eventsFor(t, "fuzz.yaml", data)
		tr := New(DefaultControllerName)
		tr.Apply(events)
		snap := tr.Snapshot()
		have := map[ir.ID]bool{}
		for _, r := range snap.IR {
			have[r.ResourceID()] = true
		}
		for _, r := range snap.IR {
			switch v := r.(type) {
			case *ir.Listener:
				if !have[ir.ID{Kind: ir.KindBind, Name: v.Bind}] {
					t.Errorf("listener %s names missing bind %s", v.Name, v.Bind)
				}
			case *ir.Route:
				for _, p := range v.Parents {
					if !have[ir.ID{Kind: ir.KindListener, Name: p.Listener}] {
						t.Errorf("route %s names missing listener %s", v.Name, p.Listener)
					}
				}
				for _, b := range v.Backends {
					if b.Invalid == "" && !have[ir.ID{Kind: ir.KindBackend, Name: b.Backend}] {
						t.Errorf("route %s names missing backend %s", v.Name, b.Backend)
					}
				}
			}
		}
		if _, _, err := tr.RenderYAML(nil); err != nil {
			t.Errorf("render: %v", err)
		}
	})
}
