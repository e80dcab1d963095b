package file

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

// recordingSink keeps every batch and forwards it on a channel.
type recordingSink struct {
	mu      sync.Mutex
	batches [][]source.Event
	ch      chan []source.Event
}

func newRecordingSink() *recordingSink {
	return &recordingSink{ch: make(chan []source.Event, 1000)}
}

func (r *recordingSink) Apply(events []source.Event) {
	r.mu.Lock()
	r.batches = append(r.batches, events)
	r.mu.Unlock()
	r.ch <- events
}

// take returns the batches received so far and forgets them.
func (r *recordingSink) take() [][]source.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.batches
	r.batches = nil
	for len(r.ch) > 0 {
		<-r.ch
	}
	return b
}

// summary renders a batch as "+Kind ns/name" (upsert) and "-Kind ns/name"
// (delete), in batch order.
func summary(events []source.Event) string {
	var parts []string
	for _, e := range events {
		op := "+"
		if e.Object == nil {
			op = "-"
		}
		parts = append(parts, op+e.Kind+" "+e.Key())
	}
	return strings.Join(parts, ", ")
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {v: %q}\n", name, value)
}

// load runs Load and returns the one batch it applied ("" for none).
func load(t *testing.T, s *Source, sink *recordingSink) (string, []source.Problem) {
	t.Helper()
	problems, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	batches := sink.take()
	switch len(batches) {
	case 0:
		return "", problems
	case 1:
		return summary(batches[0]), problems
	}
	t.Fatalf("Load applied %d batches, want at most 1", len(batches))
	return "", nil
}

func TestLoadSortedBatchAndNoChange(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.yaml", configMap("z", "1")+"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n")
	writeFile(t, dir, "sub/a.yml", configMap("a", "1"))
	writeFile(t, dir, "c.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m","namespace":"apps"}}`)
	// Skipped: hidden, editor temp files, other extensions.
	writeFile(t, dir, ".hidden.yaml", configMap("hidden", "1"))
	writeFile(t, dir, ".git/x.yaml", configMap("git", "1"))
	writeFile(t, dir, "b.yaml~", configMap("backup", "1"))
	writeFile(t, dir, "#b.yaml#", configMap("autosave", "1"))
	writeFile(t, dir, "notes.txt", "not yaml")

	sink := newRecordingSink()
	var reported [][]source.Problem
	s := New(dir, sink, Options{OnProblems: func(p []source.Problem) { reported = append(reported, p) }})
	got, problems := load(t, s, sink)
	want := "+ConfigMap apps/m, +ConfigMap default/a, +ConfigMap default/z, +Namespace apps"
	if got != want || len(problems) != 0 {
		t.Fatalf("first load: %q problems %v\nwant %q", got, problems, want)
	}
	if len(reported) != 1 || len(reported[0]) != 0 {
		t.Errorf("OnProblems calls %v, want one with an empty list", reported)
	}
	if got, _ := load(t, s, sink); got != "" {
		t.Errorf("second load of unchanged files sent %q", got)
	}
	if len(reported) != 2 {
		t.Errorf("OnProblems should be called after every load, got %d calls", len(reported))
	}
}

func TestLoadTimestampsAndGeneration(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "a.yaml", configMap("a", "1"))
	mtime := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	sink := newRecordingSink()
	s := New(dir, sink, Options{})
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	first := sink.take()[0][0].Object
	if !first.GetCreationTimestamp().Time.Equal(mtime) || first.GetGeneration() != 1 {
		t.Fatalf("timestamp %v generation %d, want %v and 1", first.GetCreationTimestamp(), first.GetGeneration(), mtime)
	}
	writeFile(t, dir, "a.yaml", configMap("a", "2"))
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	second := sink.take()[0][0].Object
	if !second.GetCreationTimestamp().Time.Equal(mtime) || second.GetGeneration() != 2 {
		t.Errorf("after change: timestamp %v generation %d, want %v and 2", second.GetCreationTimestamp(), second.GetGeneration(), mtime)
	}
	if second.(*corev1.ConfigMap).Data["v"] != "2" || first.(*corev1.ConfigMap).Data["v"] != "1" {
		t.Errorf("sent objects must not be mutated after sending")
	}
}

func TestLoadKeepsPreviousVersionOfBadObject(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", configMap("a", "1")+"---\n"+configMap("b", "1"))
	sink := newRecordingSink()
	s := New(dir, sink, Options{})
	load(t, s, sink)

	// a gets an unknown field, b changes: only b is sent, a keeps version 1.
	writeFile(t, dir, "a.yaml", configMap("a", "2")+"extra: 1\n---\n"+configMap("b", "2"))
	got, problems := load(t, s, sink)
	if got != "+ConfigMap default/b" {
		t.Errorf("batch %q, want only the update of b", got)
	}
	if len(problems) != 1 || problems[0].Object != "ConfigMap default/a" || problems[0].Field != "extra" {
		t.Errorf("problems %v, want the unknown field of a", problems)
	}
	// Fixing a sends its new version.
	writeFile(t, dir, "a.yaml", configMap("a", "2")+"---\n"+configMap("b", "2"))
	if got, problems := load(t, s, sink); got != "+ConfigMap default/a" || len(problems) != 0 {
		t.Errorf("after fix: %q %v", got, problems)
	}
}

func TestLoadKeepsObjectsOfUnparseableFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", configMap("a", "1")+"---\n"+configMap("b", "1"))
	sink := newRecordingSink()
	s := New(dir, sink, Options{})
	load(t, s, sink)

	writeFile(t, dir, "a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n")
	got, problems := load(t, s, sink)
	if got != "" {
		t.Errorf("broken file sent %q, want no events (no deletes)", got)
	}
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "invalid YAML") {
		t.Errorf("problems %v", problems)
	}
	// A file with one broken document still updates its good objects and
	// keeps the rest.
	writeFile(t, dir, "a.yaml", configMap("a", "2")+"---\nkind: [\n")
	if got, _ := load(t, s, sink); got != "+ConfigMap default/a" {
		t.Errorf("partly broken file: %q, want the update of a only", got)
	}
	writeFile(t, dir, "a.yaml", configMap("a", "2"))
	if got, problems := load(t, s, sink); got != "-ConfigMap default/b" || len(problems) != 0 {
		t.Errorf("after fix: %q %v, want b deleted", got, problems)
	}
}

func TestLoadDuplicatesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", configMap("x", "from-a"))
	writeFile(t, dir, "b.yaml", configMap("x", "from-b"))
	sink := newRecordingSink()
	s := New(dir, sink, Options{})
	problems, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	batches := sink.take()
	if v := batches[0][0].Object.(*corev1.ConfigMap).Data["v"]; v != "from-a" {
		t.Errorf("first file should win, got %q", v)
	}
	if len(problems) != 1 || problems[0].File != filepath.Join(dir, "b.yaml") || !strings.Contains(problems[0].Message, "a.yaml") {
		t.Errorf("problems %v, want a duplicate problem on b.yaml naming a.yaml", problems)
	}
	// Deleting the winner hands the object to b, as an update not a delete.
	if err := os.Remove(filepath.Join(dir, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	problems, _ = s.Load()
	batches = sink.take()
	if len(batches) != 1 || summary(batches[0]) != "+ConfigMap default/x" || len(problems) != 0 {
		t.Fatalf("after removing a.yaml: %v %v", batches, problems)
	}
	if v := batches[0][0].Object.(*corev1.ConfigMap).Data["v"]; v != "from-b" {
		t.Errorf("got %q, want from-b", v)
	}
	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	if got, _ := load(t, s, sink); got != "-ConfigMap default/x" {
		t.Errorf("after removing b.yaml: %q", got)
	}
}

func TestLoadUnreadableDirectory(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "missing"), newRecordingSink(), Options{})
	if _, err := s.Load(); err == nil {
		t.Error("Load of a missing directory should fail")
	}
}
