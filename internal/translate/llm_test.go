package translate

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"gatehouse.dev/gatehouse/internal/source"
)

// TestOnLLMSecretRefs: the Secrets that llm sections name are reported
// (so the Kubernetes source can watch exactly those), and reported again
// when a StaticBackend stops naming one.
func TestOnLLMSecretRefs(t *testing.T) {
	input, err := os.ReadFile("testdata/golden/llm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	input, _, _ = bytes.Cut(input, []byte(goldenMarker))
	events, problems := eventsFor(t, "llm.yaml", input)
	if len(problems) > 0 {
		t.Fatalf("decode problems: %v", problems)
	}
	tr := New(DefaultControllerName)
	var got [][]string
	tr.OnLLMSecretRefs(func(keys []string) { got = append(got, keys) })
	tr.Apply(events)
	if len(got) == 0 || !slices.Equal(got[len(got)-1], []string{"default/absent", "default/openai"}) {
		t.Fatalf("LLM Secret refs = %v, want [default/absent default/openai]", got)
	}
	tr.Apply([]source.Event{{Kind: "StaticBackend", Namespace: "default", Name: "nokey"}}) // deleted
	if last := got[len(got)-1]; !slices.Equal(last, []string{"default/openai"}) {
		t.Errorf("after deleting the backend: %v, want [default/openai]", last)
	}
}
