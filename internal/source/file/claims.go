package file

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	"gatehouse.dev/gatehouse/internal/source"
)

// setFile replaces what one file contributes (nil removes the file) and
// marks every object it defined before or defines now as dirty, so that
// reconcile only looks at objects whose definitions changed. The cost of a
// change is proportional to the files that changed, not to the config.
func (s *Source) setFile(path string, st *fileState) {
	if prev := s.files[path]; prev != nil {
		for _, k := range prev.keys() {
			if len(s.definers[k]) > 1 {
				s.problemsDirty = true // a duplicate may go away
			}
			s.definers[k] = slices.DeleteFunc(s.definers[k], func(f string) bool { return f == path })
			if len(s.definers[k]) == 0 {
				delete(s.definers, k)
			}
			s.dirty[k] = true
		}
		s.problemsDirty = s.problemsDirty || len(prev.problems) > 0 || prev.hasInternalDuplicates()
	}
	if st == nil {
		delete(s.files, path)
		return
	}
	s.files[path] = st
	for _, k := range st.keys() {
		list := s.definers[k]
		if i, found := slices.BinarySearch(list, path); !found {
			s.definers[k] = slices.Insert(list, i, path)
		}
		s.dirty[k] = true
	}
	s.problemsDirty = s.problemsDirty || len(st.problems) > 0 || st.hasInternalDuplicates()
}

// hasInternalDuplicates reports whether the file defines an object twice.
func (st *fileState) hasInternalDuplicates() bool {
	return len(st.keys()) < len(st.objects)+len(st.rejected)
}

// keys returns every object key the file defines (valid or rejected), once.
func (st *fileState) keys() []objectKey {
	seen := make(map[objectKey]bool, len(st.objects)+len(st.rejected))
	out := make([]objectKey, 0, len(st.objects)+len(st.rejected))
	for _, r := range st.rejected {
		if !seen[r.key] {
			seen[r.key] = true
			out = append(out, r.key)
		}
	}
	for _, o := range st.objects {
		if !seen[o.key] {
			seen[o.key] = true
			out = append(out, o.key)
		}
	}
	return out
}

// claim is the file entry that decides an object's version.
type claim struct {
	file   string
	doc    int
	object *decodedObject // nil for a rejected object: keep what was sent
}

// claimOf returns the definition that wins for key: the first file in path
// order, and within it a rejected definition before a valid one, then the
// first valid one. ok is false when no file defines key.
func (s *Source) claimOf(key objectKey) (claim, bool) {
	files := s.definers[key]
	if len(files) == 0 {
		return claim{}, false
	}
	st := s.files[files[0]]
	for _, r := range st.rejected {
		if r.key == key {
			return claim{file: files[0], doc: r.doc}, true
		}
	}
	for i := range st.objects {
		if st.objects[i].key == key {
			return claim{file: files[0], doc: st.objects[i].doc, object: &st.objects[i]}, true
		}
	}
	return claim{}, false
}

// reconcile sends the difference between the wanted and the sent version of
// every dirty object as one batch, and reports problems.
func (s *Source) reconcile(alwaysReport bool) []source.Problem {
	var events []source.Event
	for key := range s.dirty {
		if len(s.definers[key]) > 1 {
			s.problemsDirty = true // a duplicate appeared or changed
		}
		if ev, ok := s.reconcileKey(key); ok {
			events = append(events, ev)
		}
	}
	s.dirty = map[objectKey]bool{}
	if len(events) > 0 {
		slices.SortFunc(events, func(a, b source.Event) int {
			return objectKey{a.Kind, a.Namespace, a.Name}.compare(objectKey{b.Kind, b.Namespace, b.Name})
		})
		s.log.Debug("applying batch", "events", len(events))
		s.sink.Apply(events)
	}
	problems := s.problems
	if s.problemsDirty || !s.reported {
		problems = s.allProblems()
		s.problemsDirty = false
	}
	s.report(problems, alwaysReport)
	return problems
}

// reconcileKey decides the event (if any) for one dirty object.
func (s *Source) reconcileKey(key objectKey) (source.Event, bool) {
	prev := s.sent[key]
	c, defined := s.claimOf(key)
	switch {
	case !defined:
		if prev == nil {
			return source.Event{}, false
		}
		delete(s.sent, key)
		return source.Event{Kind: key.kind, Namespace: key.namespace, Name: key.name}, true
	case c.object == nil:
		return source.Event{}, false // rejected: the sent version stays in force
	}
	obj := finalize(c.object, prev, s.files[c.file].mtime)
	if prev != nil && equality.Semantic.DeepEqual(obj, prev) {
		return source.Event{}, false
	}
	if prev != nil && !c.object.userGeneration {
		obj.SetGeneration(prev.GetGeneration() + 1)
	}
	s.sent[key] = obj
	return source.Event{Kind: key.kind, Namespace: key.namespace, Name: key.name, Object: obj}, true
}

// allProblems lists the problems of every file plus one per duplicate
// definition (every definition after the winning one), sorted by file and
// document.
func (s *Source) allProblems() []source.Problem {
	problems := []source.Problem{}
	for _, path := range slices.Sorted(maps.Keys(s.files)) {
		st := s.files[path]
		problems = append(problems, st.problems...)
		first := map[objectKey]claim{}
		for _, r := range st.rejected {
			if _, seen := first[r.key]; !seen {
				first[r.key] = claim{file: path, doc: r.doc}
			}
		}
		for i := range st.objects {
			o := &st.objects[i]
			win, _ := s.claimOf(o.key)
			if f, seen := first[o.key]; seen {
				win = f // duplicate within this file
			} else {
				first[o.key] = claim{file: path, doc: o.doc, object: o}
				if win.file == path {
					continue // this definition wins
				}
			}
			problems = append(problems, duplicateProblem(path, o, win))
		}
	}
	slices.SortStableFunc(problems, func(a, b source.Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Document, b.Document))
	})
	return problems
}
