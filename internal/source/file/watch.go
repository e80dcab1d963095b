package file

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// maxDelayFactor bounds how long a stream of events can hold a reload
// back: at most this many Debounce periods after the first event.
const maxDelayFactor = 25

// configMapDataLink is the symlink a Kubernetes ConfigMap or Secret volume
// swaps atomically on update; its hidden target is otherwise ignored.
const configMapDataLink = "..data"

// Run watches the directory (recursively, including directories created
// later) and, after Debounce of quiet, re-reads the changed files, diffs
// against the objects it last sent and applies one batch with the changes.
// Unchanged objects produce no event. Run starts with a full read (after
// its watches are in place, so nothing written in between is missed); if
// Load was called before and nothing changed, that read sends nothing and
// does not repeat OnProblems. Run returns nil when ctx is done, or an error
// when the directory cannot be read or watched.
func (s *Source) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := s.watchTree(w, s.dir); err != nil {
		return err
	}
	if _, err := s.loadAll(false); err != nil {
		return err
	}
	p := &pending{paths: map[string]bool{}}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("file watcher closed")
			}
			s.noteEvent(w, ev, p)
			s.arm(timer, p)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("file watcher closed")
			}
			s.log.Warn("file watcher error; rescanning", "err", err)
			p.full = true
			s.arm(timer, p)
		case <-timer.C:
			s.flush(p)
		}
	}
}

// pending collects what changed since the last reload.
type pending struct {
	paths map[string]bool
	full  bool      // re-read everything (overflow, ConfigMap volume swap)
	since time.Time // first event since the last reload
}

func (p *pending) empty() bool { return len(p.paths) == 0 && !p.full }

// arm (re)starts the debounce timer, without letting a continuous stream
// of events postpone the reload by more than maxDelayFactor*Debounce.
func (s *Source) arm(timer *time.Timer, p *pending) {
	now := time.Now()
	if p.since.IsZero() {
		p.since = now
	}
	wait := min(s.opts.Debounce, p.since.Add(maxDelayFactor*s.opts.Debounce).Sub(now))
	timer.Reset(max(wait, 0))
}

// flush reloads what is pending.
func (s *Source) flush(p *pending) {
	if p.empty() {
		return
	}
	if p.full {
		if _, err := s.loadAll(true); err != nil {
			s.log.Error("cannot read config directory", "err", err)
		}
	} else {
		s.reloadPaths(slices.Sorted(maps.Keys(p.paths)))
	}
	*p = pending{paths: map[string]bool{}}
}

// noteEvent records the path of one fsnotify event, watching directories
// as they are created.
func (s *Source) noteEvent(w *fsnotify.Watcher, ev fsnotify.Event, p *pending) {
	s.log.Debug("file event", "path", ev.Name, "op", ev.Op.String())
	if filepath.Base(ev.Name) == configMapDataLink {
		p.full = true
		return
	}
	if s.ignored(ev.Name) {
		return
	}
	if ev.Has(fsnotify.Create) {
		if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
			if err := s.watchTree(w, ev.Name); err != nil {
				s.log.Warn("cannot watch new directory", "path", ev.Name, "err", err)
			}
		}
	}
	if ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove) {
		// A renamed directory keeps its watch under the old name; drop it,
		// the new name arrives as a Create.
		_ = w.Remove(ev.Name)
	}
	p.paths[ev.Name] = true
}

// watchTree adds a watch for root and every non-ignored directory below it.
func (s *Source) watchTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && s.ignored(path) {
			return fs.SkipDir
		}
		if err := w.Add(path); err != nil {
			if path == root {
				return err
			}
			s.log.Warn("cannot watch directory", "path", path, "err", err)
		}
		return nil
	})
}
