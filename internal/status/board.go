package status

import (
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"

	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/translate"
)

// Board keeps the latest status of every object and config problems,
// logs changes, and serves them to the admin endpoints.
type Board struct {
	log      *slog.Logger
	mu       sync.Mutex
	status   map[string]translate.ObjectStatus
	problems []source.Problem
}

// NewBoard returns an empty board that logs to log.
func NewBoard(log *slog.Logger) *Board {
	return &Board{log: log, status: map[string]translate.ObjectStatus{}}
}

// Update records a status change and logs each changed object: Info when it
// is fully accepted, Warn with the failing conditions otherwise.
func (b *Board) Update(c translate.StatusChange) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range c.Removed {
		delete(b.status, k)
	}
	for _, s := range c.Updated {
		if old, ok := b.status[s.Key()]; ok && statusEqual(old, s) {
			continue
		}
		b.status[s.Key()] = s
		if problems := failingConditions(s); len(problems) > 0 {
			b.log.Warn("object not fully accepted", "object", s.Key(), "conditions", strings.Join(problems, "; "))
		} else {
			b.log.Info("object accepted", "object", s.Key())
		}
	}
}

// SetProblems replaces the current config problems and logs each.
func (b *Board) SetProblems(ps []source.Problem) {
	b.mu.Lock()
	b.problems = append([]source.Problem(nil), ps...)
	b.mu.Unlock()
	for _, p := range ps {
		b.log.Warn("config problem", "file", p.File, "document", p.Document, "object", p.Object, "field", p.Field, "message", p.Message)
	}
}

// Snapshot returns every object status, sorted by object.
func (b *Board) Snapshot() any {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]translate.ObjectStatus, 0, len(b.status))
	for _, s := range b.status {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// ProblemList returns the current config problems.
func (b *Board) ProblemList() any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]source.Problem{}, b.problems...)
}

// failingConditions lists "where: Type=Status (Reason): message" for every
// condition that says something is wrong.
func failingConditions(s translate.ObjectStatus) []string {
	var out []string
	add := func(where string, typ, status, reason, msg string) {
		bad := (typ == "Accepted" || typ == "ResolvedRefs" || typ == "Programmed") && status == "False"
		bad = bad || (typ == "Conflicted" || typ == "PartiallyInvalid") && status == "True"
		if bad {
			out = append(out, where+typ+"="+status+" ("+reason+"): "+msg)
		}
	}
	switch {
	case s.GatewayClass != nil:
		for _, c := range s.GatewayClass.Conditions {
			add("", c.Type, string(c.Status), c.Reason, c.Message)
		}
	case s.Gateway != nil:
		for _, c := range s.Gateway.Conditions {
			add("", c.Type, string(c.Status), c.Reason, c.Message)
		}
		for _, l := range s.Gateway.Listeners {
			for _, c := range l.Conditions {
				add("listener "+string(l.Name)+": ", c.Type, string(c.Status), c.Reason, c.Message)
			}
		}
	case s.ListenerSet != nil:
		for _, c := range s.ListenerSet.Conditions {
			add("", c.Type, string(c.Status), c.Reason, c.Message)
		}
		for _, l := range s.ListenerSet.Listeners {
			for _, c := range l.Conditions {
				add("listener "+string(l.Name)+": ", c.Type, string(c.Status), c.Reason, c.Message)
			}
		}
	case s.Route != nil:
		for _, p := range s.Route.Parents {
			for _, c := range p.Conditions {
				add("parent "+string(p.ParentRef.Name)+": ", c.Type, string(c.Status), c.Reason, c.Message)
			}
		}
	case s.TrafficPolicy != nil:
		for _, a := range s.TrafficPolicy.Ancestors {
			for _, c := range a.Conditions {
				add("ancestor "+string(a.AncestorRef.Name)+": ", c.Type, string(c.Status), c.Reason, c.Message)
			}
		}
	}
	return out
}

func statusEqual(a, b translate.ObjectStatus) bool { return reflect.DeepEqual(a, b) }
