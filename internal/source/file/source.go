package file

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

// DefaultDebounce is the quiet period Run waits for when Options.Debounce
// is zero.
const DefaultDebounce = 20 * time.Millisecond

// Options configure a Source.
type Options struct {
	// Logger receives operational logs; slog.Default() when nil.
	Logger *slog.Logger
	// Debounce is how long Run waits for file events to stop before it
	// reloads, so that an editor's save or a `cp -r` becomes one batch.
	// Default DefaultDebounce.
	Debounce time.Duration
	// OnProblems is called after every (re)load with the complete current
	// list of problems (empty when the config is clean), so callers can
	// log or print them. It is called with the Source's lock held: it must
	// not call back into the Source.
	OnProblems func([]source.Problem)
}

// Source reads config objects from a directory of YAML and JSON files and
// sends changes to a sink. Load and Run may be called from any goroutine;
// batches are applied one at a time.
type Source struct {
	dir  string
	sink source.Sink
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	files map[string]*fileState // by path (dir joined with the relative path)
	sent  map[objectKey]source.Object
	// definers lists, per object, the files (sorted) that define it; dirty
	// holds the objects whose definitions changed since the last reconcile.
	definers map[objectKey][]string
	dirty    map[objectKey]bool
	// problemsDirty is set when the problem list must be rebuilt.
	problemsDirty bool
	problems      []source.Problem
	reported      bool // OnProblems has been called at least once
}

// fileState is what one file contributes.
type fileState struct {
	decodeResult
	mtime time.Time
	size  int64
}

// New returns a Source for dir that applies batches to sink. Nothing is
// read until Load or Run.
func New(dir string, sink source.Sink, o Options) *Source {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	return &Source{
		dir: dir, sink: sink, opts: o,
		log:      o.Logger.With("source", "file", "dir", dir),
		files:    map[string]*fileState{},
		sent:     map[objectKey]source.Object{},
		definers: map[objectKey][]string{},
		dirty:    map[objectKey]bool{},
	}
}

// Load reads the whole directory once and applies one batch of events to
// the sink (none when nothing changed since the last load). It returns the
// problems found; the error is only for an unreadable directory.
func (s *Source) Load() ([]source.Problem, error) {
	return s.loadAll(true)
}

// loadAll re-reads every file. With alwaysReport false OnProblems is only
// called when the problems differ from the last report.
func (s *Source) loadAll(alwaysReport bool) ([]source.Problem, error) {
	paths, err := s.listConfigFiles(s.dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for path := range s.files {
		if !slices.Contains(paths, path) {
			s.setFile(path, nil)
		}
	}
	for _, path := range paths {
		// The watcher's first pass (alwaysReport false) follows Load: skip
		// files unchanged since then rather than decode everything twice.
		if !alwaysReport && s.unchanged(path) {
			continue
		}
		s.readFile(path)
	}
	return s.reconcile(alwaysReport), nil
}

// reloadPaths re-reads the given paths: files, directories (everything
// under them) and paths that no longer exist (dropping what they held).
func (s *Source) reloadPaths(paths []string) []source.Problem {
	s.mu.Lock()
	defer s.mu.Unlock()
	todo := map[string]bool{}
	for _, p := range paths {
		todo[p] = true
		for known := range s.files {
			if strings.HasPrefix(known, p+string(filepath.Separator)) {
				todo[known] = true
			}
		}
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			found, err := s.listConfigFiles(p)
			if err != nil {
				s.log.Warn("cannot list directory", "path", p, "err", err)
			}
			for _, f := range found {
				todo[f] = true
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(todo)) {
		info, err := os.Stat(p)
		switch {
		case err == nil && info.IsDir():
		case err == nil && s.isConfigFile(p):
			s.readFile(p)
		default:
			s.setFile(p, nil)
		}
	}
	return s.reconcile(true)
}

// unchanged reports whether path has the modification time and size it had
// when it was last read.
func (s *Source) unchanged(path string) bool {
	prev := s.files[path]
	if prev == nil {
		return false
	}
	info, err := os.Stat(path)
	return err == nil && info.ModTime().Equal(prev.mtime) && info.Size() == prev.size
}

// readFile reads and decodes one file into s.files. A file that cannot be
// read is treated like one that does not parse: it keeps what it had.
func (s *Source) readFile(path string) {
	prev := s.files[path]
	data, err := os.ReadFile(path)
	var info os.FileInfo
	if err == nil {
		info, err = os.Stat(path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.setFile(path, nil)
			return
		}
		st := &fileState{}
		if prev != nil {
			st.objects = prev.objects
			st.mtime = prev.mtime
		}
		st.broken = true
		st.problems = []source.Problem{{File: path, Message: fmt.Sprintf("cannot read file: %v; fix its permissions (the objects it defined before stay in force)", err)}}
		s.setFile(path, st)
		return
	}
	st := &fileState{decodeResult: decodeFile(path, data), mtime: info.ModTime(), size: info.Size()}
	if st.broken && prev != nil {
		st.objects = keepPrevious(st.decodeResult, prev.objects)
	}
	s.setFile(path, st)
}

// keepPrevious returns the file's new objects plus the objects it held
// before that it no longer defines, for a file with an unparseable part.
func keepPrevious(res decodeResult, prev []decodedObject) []decodedObject {
	defined := map[objectKey]bool{}
	for _, o := range res.objects {
		defined[o.key] = true
	}
	for _, r := range res.rejected {
		defined[r.key] = true
	}
	objs := slices.Clone(res.objects)
	for _, o := range prev {
		if !defined[o.key] {
			objs = append(objs, o)
		}
	}
	return objs
}

func duplicateProblem(path string, o *decodedObject, first claim) source.Problem {
	where := first.file
	if first.file == path {
		where = "this file"
	}
	return source.Problem{
		File: path, Document: o.doc, Object: o.key.String(),
		Message: fmt.Sprintf("%s is already defined in %s (document %d), which wins; remove one of the two definitions", o.key, where, first.doc),
	}
}

// finalize returns a copy of o's object with creationTimestamp and
// generation filled in: kept from prev when the object was sent before,
// else the file's mtime and 1.
func finalize(o *decodedObject, prev source.Object, mtime time.Time) source.Object {
	obj := o.obj.DeepCopyObject().(source.Object)
	if !o.userTimestamp {
		ts := metav1.NewTime(mtime.Truncate(time.Second))
		if prev != nil {
			ts = prev.GetCreationTimestamp()
		}
		obj.SetCreationTimestamp(ts)
	}
	if !o.userGeneration && prev != nil {
		obj.SetGeneration(prev.GetGeneration())
	}
	return obj
}

// report calls OnProblems, unless alwaysReport is false and the list is
// the same as last time.
func (s *Source) report(problems []source.Problem, alwaysReport bool) {
	same := s.reported && slices.Equal(problems, s.problems)
	s.problems = problems
	if s.opts.OnProblems == nil || (same && !alwaysReport) {
		return
	}
	s.reported = true
	s.opts.OnProblems(slices.Clone(problems))
}

// listConfigFiles returns the config files under root, sorted. An error is
// returned only when root itself cannot be read.
func (s *Source) listConfigFiles(root string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			s.log.Warn("skipping unreadable path", "path", path, "err", err)
			return nil
		}
		if d.IsDir() {
			if path != root && s.ignored(path) {
				return fs.SkipDir
			}
			return nil
		}
		if s.isConfigFile(path) {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading config directory %s: %w", root, err)
	}
	slices.Sort(paths)
	return paths, nil
}

// isConfigFile reports whether path names a YAML or JSON file that is not
// hidden or an editor temp file, and is not a directory.
func (s *Source) isConfigFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
	default:
		return false
	}
	if s.ignored(path) {
		return false
	}
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

// ignored reports whether any element of path below dir is hidden or an
// editor temp file.
func (s *Source) ignored(path string) bool {
	rel, err := filepath.Rel(s.dir, path)
	if err != nil || rel == "." {
		return false
	}
	for _, elem := range strings.Split(rel, string(filepath.Separator)) {
		if ignoredName(elem) {
			return true
		}
	}
	return false
}

// ignoredName reports whether a file or directory name is hidden or an
// editor leftover (emacs "~", ".#x", "#x#", vim swap files).
func ignoredName(name string) bool {
	return strings.HasPrefix(name, ".") ||
		strings.HasSuffix(name, "~") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#")) ||
		strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".swx")
}
