package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

// waitLimit bounds how long a test waits for the watcher; it is a deadline
// against hangs, not a performance assertion.
const waitLimit = 10 * time.Second

// watched runs a Source on a new temp dir until the test ends.
type watched struct {
	dir      string
	sink     *recordingSink
	problems chan []source.Problem
}

func startWatch(t *testing.T) *watched {
	t.Helper()
	w := &watched{dir: t.TempDir(), sink: newRecordingSink(), problems: make(chan []source.Problem, 1000)}
	s := New(w.dir, w.sink, Options{OnProblems: func(p []source.Problem) { w.problems <- p }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	w.nextProblems(t) // the initial load
	return w
}

// nextBatch waits for the next batch and summarises it.
func (w *watched) nextBatch(t *testing.T) []source.Event {
	t.Helper()
	select {
	case b := <-w.sink.ch:
		return b
	case <-time.After(waitLimit):
		t.Fatal("no batch arrived")
		return nil
	}
}

// nextProblems waits for the end of the next reload.
func (w *watched) nextProblems(t *testing.T) []source.Problem {
	t.Helper()
	select {
	case p := <-w.problems:
		return p
	case <-time.After(waitLimit):
		t.Fatal("no reload happened")
		return nil
	}
}

// noBatch asserts that no batch is pending (call after a reload finished).
func (w *watched) noBatch(t *testing.T, why string) {
	t.Helper()
	select {
	case b := <-w.sink.ch:
		t.Errorf("%s: unexpected batch %s", why, summary(b))
	default:
	}
}

func TestRunLifecycle(t *testing.T) {
	w := startWatch(t)

	writeFile(t, w.dir, "app.yaml", configMap("a", "1"))
	if got := summary(w.nextBatch(t)); got != "+ConfigMap default/a" {
		t.Fatalf("create: %q", got)
	}
	w.nextProblems(t)

	writeFile(t, w.dir, "app.yaml", configMap("a", "2"))
	b := w.nextBatch(t)
	if cm := b[0].Object.(*corev1.ConfigMap); len(b) != 1 || cm.Data["v"] != "2" || cm.Generation != 2 {
		t.Fatalf("update: %s %+v", summary(b), cm)
	}
	w.nextProblems(t)

	writeFile(t, w.dir, "app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n")
	if p := w.nextProblems(t); len(p) != 1 || p[0].File != filepath.Join(w.dir, "app.yaml") {
		t.Fatalf("broken file: problems %v", p)
	}
	w.noBatch(t, "broken file")

	writeFile(t, w.dir, "app.yaml", configMap("a", "3"))
	if got := summary(w.nextBatch(t)); got != "+ConfigMap default/a" {
		t.Fatalf("fix: %q", got)
	}
	if p := w.nextProblems(t); len(p) != 0 {
		t.Fatalf("problems after fix: %v", p)
	}

	if err := os.Remove(filepath.Join(w.dir, "app.yaml")); err != nil {
		t.Fatal(err)
	}
	if got := summary(w.nextBatch(t)); got != "-ConfigMap default/a" {
		t.Fatalf("delete: %q", got)
	}
}

func TestRunWatchesNewDirectories(t *testing.T) {
	w := startWatch(t)
	// Created in one go, before the watcher can add the new directories.
	writeFile(t, w.dir, "team/a/routes.yaml", configMap("deep", "1"))
	if got := summary(w.nextBatch(t)); got != "+ConfigMap default/deep" {
		t.Fatalf("file in new directory: %q", got)
	}
	w.nextProblems(t)
	// A file added later to the new directory is seen through its watch.
	writeFile(t, w.dir, "team/a/more.yaml", configMap("more", "1"))
	if got := summary(w.nextBatch(t)); got != "+ConfigMap default/more" {
		t.Fatalf("second file: %q", got)
	}
	w.nextProblems(t)
	if err := os.RemoveAll(filepath.Join(w.dir, "team")); err != nil {
		t.Fatal(err)
	}
	if got := summary(w.nextBatch(t)); got != "-ConfigMap default/deep, -ConfigMap default/more" {
		t.Fatalf("removed directory: %q", got)
	}
}

func TestRunCoalescesBursts(t *testing.T) {
	w := startWatch(t)
	const writes = 50
	for i := range writes {
		writeFile(t, w.dir, fmt.Sprintf("f%02d.yaml", i%10), configMap(fmt.Sprintf("c%02d", i%10), fmt.Sprint(i)))
	}
	// Wait until every object has its final value.
	final := map[string]string{}
	batches := 0
	for len(final) < 10 || !allFinal(final, writes) {
		for _, e := range w.nextBatch(t) {
			final[e.Name] = e.Object.(*corev1.ConfigMap).Data["v"]
		}
		batches++
	}
	if batches > 5 {
		t.Errorf("%d writes produced %d batches, want them coalesced into a few", writes, batches)
	}
}

// allFinal reports whether each cNN holds the value of its last write.
func allFinal(values map[string]string, writes int) bool {
	for i := writes - 10; i < writes; i++ {
		if values[fmt.Sprintf("c%02d", i%10)] != fmt.Sprint(i) {
			return false
		}
	}
	return true
}

func TestRunTouchSendsNothing(t *testing.T) {
	w := startWatch(t)
	path := writeFile(t, w.dir, "a.yaml", configMap("a", "1"))
	w.nextBatch(t)
	w.nextProblems(t)

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	w.nextProblems(t) // the reload ran...
	w.noBatch(t, "touch")
	// ...and rewriting identical content is a no-op too.
	writeFile(t, w.dir, "a.yaml", configMap("a", "1"))
	w.nextProblems(t)
	w.noBatch(t, "rewrite with same content")
	// Editor lock files are never read, though their names end in .yaml.
	writeFile(t, w.dir, ".#a.yaml", "junk: [")
	writeFile(t, w.dir, "a.yaml", configMap("a", "2"))
	if got := summary(w.nextBatch(t)); got != "+ConfigMap default/a" {
		t.Errorf("got %q", got)
	}
	if p := w.nextProblems(t); len(p) != 0 {
		t.Errorf("editor lock file was read: %v", p)
	}
}
