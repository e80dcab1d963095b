package translate

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/testkit"
)

// goldenMarker separates a golden file's input from its expected output.
const goldenMarker = "# ==== expected output (REFRESH_GOLDEN=1 rewrites below) ====\n"

// eventsFor decodes YAML into events, failing the test on decode problems
// unless the case expects them (they then appear in the output).
func eventsFor(t testing.TB, name string, input []byte) ([]source.Event, []source.Problem) {
	t.Helper()
	objs, problems := file.Decode(name, input)
	events := make([]source.Event, 0, len(objs))
	for _, o := range objs {
		events = append(events, source.Event{Kind: o.GetObjectKind().GroupVersionKind().Kind,
			Namespace: o.GetNamespace(), Name: o.GetName(), Object: o})
	}
	return events, problems
}

// TestGolden translates each testdata/golden/*.yaml input and compares the
// IR and status with the expected output in the same file.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			input, want, found := bytes.Cut(data, []byte(goldenMarker))
			events, problems := eventsFor(t, filepath.Base(path), input)
			tr := New(DefaultControllerName)
			tr.Apply(events)
			got, _, err := tr.RenderYAML(problems)
			if err != nil {
				t.Fatal(err)
			}
			if os.Getenv("REFRESH_GOLDEN") != "" {
				out := append(append(append([]byte(nil), input...), goldenMarker...), got...)
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !found {
				t.Fatalf("%s has no expected output; run with REFRESH_GOLDEN=1", path)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: output differs from golden (REFRESH_GOLDEN=1 to accept)\n%s", path, testkit.LineDiff(string(want), string(got)))
			}
		})
	}
}
