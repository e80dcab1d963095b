package collection

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
)

// Engine owns a graph of collections and applies batches of input changes.
type Engine struct {
	mu    sync.Mutex
	colls []*coll
	// dirty[i] holds the primary keys of derived collection i to recompute.
	dirty []map[string]struct{}
	stats Stats
	// after runs once at the end of every batch, after all subscribers.
	after []func()
}

// Stats counts work done, for tests and benchmarks.
type Stats struct {
	// Recomputes is the number of transformation calls made.
	Recomputes int
	// Batches is the number of Update calls that were applied.
	Batches int
}

// NewEngine returns an empty engine.
func NewEngine() *Engine { return &Engine{} }

// Stats returns the work counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// dependent identifies one derived entry: a derived collection and one of its
// primary keys.
type dependent struct {
	c   *coll
	key string
}

// dep is one recorded read, kept so it can be forgotten on recompute.
type dep struct {
	c     *coll
	index string // "" for a key read
	value string // key or index value; "" with all=true
	all   bool
}

type index struct {
	name string
	fn   func(any) []string
	// byValue maps an index value to the set of item keys that carry it.
	byValue map[string]map[string]struct{}
	// groups, when set, mirrors byValue's member counts as a collection
	// (see IndexCounts).
	groups *coll
}

// syncGroup publishes the member count of one index value to the groups
// collection, if there is one. It is O(1): readers that need the members
// read them through FetchIndex, which records its own dependency.
func (ix *index) syncGroup(value string) {
	if ix.groups == nil {
		return
	}
	if n := len(ix.byValue[value]); n > 0 {
		ix.groups.set(value, n, false)
	} else {
		ix.groups.set(value, nil, true)
	}
}

type coll struct {
	e     *Engine
	pos   int
	name  string
	items map[string]any
	eq    func(a, b any) bool

	indexes map[string]*index
	keyDeps map[string]map[dependent]struct{}
	idxDeps map[string]map[string]map[dependent]struct{}
	allDeps map[dependent]struct{}

	// Derived collections only.
	primary   *coll
	transform func(ctx *Ctx, key string, v any) []entry
	outKeys   map[string][]string // primary key -> output keys
	reads     map[string][]dep    // primary key -> reads made
	derived   []*coll             // collections whose primary is this one

	subs    []func([]change)
	pending map[string]change // changes in the running batch, by key
}

type entry struct {
	key string
	val any
}

type change struct {
	key      string
	old, new any
	hadOld   bool
	hasNew   bool
}

func (e *Engine) newColl(name string, eq func(a, b any) bool) *coll {
	if eq == nil {
		eq = reflect.DeepEqual
	}
	c := &coll{
		e: e, pos: len(e.colls), name: name, items: map[string]any{}, eq: eq,
		indexes: map[string]*index{}, keyDeps: map[string]map[dependent]struct{}{},
		idxDeps: map[string]map[string]map[dependent]struct{}{}, allDeps: map[dependent]struct{}{},
		pending: map[string]change{},
	}
	e.colls = append(e.colls, c)
	e.dirty = append(e.dirty, nil)
	return c
}

// set stores v under key (or deletes it when del) and records the change,
// marking every dependent entry dirty. Equal values change nothing.
func (c *coll) set(key string, v any, del bool) {
	old, had := c.items[key]
	if del && !had {
		return
	}
	if !del && had && c.eq(old, v) {
		return
	}
	if del {
		delete(c.items, key)
	} else {
		c.items[key] = v
	}
	c.reindex(key, old, had, v, !del)
	c.markDependents(key)
	ch, seen := c.pending[key]
	if !seen {
		ch = change{key: key, old: old, hadOld: had}
	}
	ch.new, ch.hasNew = v, !del
	if del {
		ch.new = nil
	}
	c.pending[key] = ch
	for _, d := range c.derived {
		c.e.markDirty(d, key)
	}
}

func (c *coll) reindex(key string, old any, hadOld bool, v any, hasNew bool) {
	for _, ix := range c.indexes {
		var oldVals, newVals []string
		if hadOld {
			oldVals = ix.fn(old)
		}
		if hasNew {
			newVals = ix.fn(v)
		}
		for _, ov := range oldVals {
			if !contains(newVals, ov) {
				delete(ix.byValue[ov], key)
				if len(ix.byValue[ov]) == 0 {
					delete(ix.byValue, ov)
				}
				ix.syncGroup(ov)
			}
			c.markIndexDependents(ix.name, ov)
		}
		for _, nv := range newVals {
			set := ix.byValue[nv]
			if set == nil {
				set = map[string]struct{}{}
				ix.byValue[nv] = set
			}
			if _, had := set[key]; !had {
				set[key] = struct{}{}
				ix.syncGroup(nv)
			}
			c.markIndexDependents(ix.name, nv)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *coll) markDependents(key string) {
	for d := range c.keyDeps[key] {
		c.e.markDirty(d.c, d.key)
	}
	for d := range c.allDeps {
		c.e.markDirty(d.c, d.key)
	}
}

func (c *coll) markIndexDependents(name, value string) {
	for d := range c.idxDeps[name][value] {
		c.e.markDirty(d.c, d.key)
	}
}

func (e *Engine) markDirty(c *coll, key string) {
	if e.dirty[c.pos] == nil {
		e.dirty[c.pos] = map[string]struct{}{}
	}
	e.dirty[c.pos][key] = struct{}{}
}

// settle recomputes dirty derived entries in creation order until nothing is
// dirty, then tells subscribers.
func (e *Engine) settle() {
	for i, c := range e.colls {
		keys := e.dirty[i]
		if len(keys) == 0 {
			continue
		}
		e.dirty[i] = nil
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			c.recompute(k)
		}
	}
	for _, c := range e.colls {
		if len(c.pending) == 0 {
			continue
		}
		changes := make([]change, 0, len(c.pending))
		for _, ch := range c.pending {
			if ch.hadOld && ch.hasNew && c.eq(ch.old, ch.new) {
				continue // changed and changed back within the batch
			}
			if !ch.hadOld && !ch.hasNew {
				continue
			}
			changes = append(changes, ch)
		}
		c.pending = map[string]change{}
		if len(changes) == 0 {
			continue
		}
		sort.Slice(changes, func(a, b int) bool { return changes[a].key < changes[b].key })
		for _, s := range c.subs {
			s(changes)
		}
	}
	for _, fn := range e.after {
		fn()
	}
}

// recompute runs the transformation for one primary key and applies the
// difference between its new and previous outputs.
func (c *coll) recompute(key string) {
	c.forget(key)
	var outs []entry
	if v, ok := c.primary.items[key]; ok {
		ctx := &Ctx{c: c, key: key}
		outs = c.transform(ctx, key, v)
		c.reads[key] = ctx.reads
		c.e.stats.Recomputes++
	}
	prev := c.outKeys[key]
	newKeys := make([]string, 0, len(outs))
	for _, o := range outs {
		c.set(o.key, o.val, false)
		newKeys = append(newKeys, o.key)
	}
	if len(newKeys) > 16 {
		// Many outputs per key (a Derive that splits a group): a set keeps
		// the removal check linear.
		kept := make(map[string]struct{}, len(newKeys))
		for _, k := range newKeys {
			kept[k] = struct{}{}
		}
		for _, pk := range prev {
			if _, ok := kept[pk]; !ok {
				c.set(pk, nil, true)
			}
		}
	} else {
		for _, pk := range prev {
			if !contains(newKeys, pk) {
				c.set(pk, nil, true)
			}
		}
	}
	if len(newKeys) == 0 {
		delete(c.outKeys, key)
	} else {
		c.outKeys[key] = newKeys
	}
}

// forget removes the dependencies recorded by the last computation of key.
func (c *coll) forget(key string) {
	me := dependent{c, key}
	for _, d := range c.reads[key] {
		switch {
		case d.all:
			delete(d.c.allDeps, me)
		case d.index != "":
			if m := d.c.idxDeps[d.index][d.value]; m != nil {
				delete(m, me)
				if len(m) == 0 {
					delete(d.c.idxDeps[d.index], d.value)
				}
			}
		default:
			if m := d.c.keyDeps[d.value]; m != nil {
				delete(m, me)
				if len(m) == 0 {
					delete(d.c.keyDeps, d.value)
				}
			}
		}
	}
	delete(c.reads, key)
}

// Ctx is handed to a transformation; reads through it are dependencies.
type Ctx struct {
	c     *coll
	key   string
	reads []dep
}

func (x *Ctx) check(target *coll) {
	if target.pos >= x.c.pos {
		panic(fmt.Sprintf("collection %s may not read %s: only collections created earlier can be read", x.c.name, target.name))
	}
}

func (x *Ctx) readKey(target *coll, key string) {
	x.check(target)
	me := dependent{x.c, x.key}
	m := target.keyDeps[key]
	if m == nil {
		m = map[dependent]struct{}{}
		target.keyDeps[key] = m
	}
	m[me] = struct{}{}
	x.reads = append(x.reads, dep{c: target, value: key})
}

func (x *Ctx) readIndex(target *coll, name, value string) {
	x.check(target)
	me := dependent{x.c, x.key}
	byVal := target.idxDeps[name]
	if byVal == nil {
		byVal = map[string]map[dependent]struct{}{}
		target.idxDeps[name] = byVal
	}
	m := byVal[value]
	if m == nil {
		m = map[dependent]struct{}{}
		byVal[value] = m
	}
	m[me] = struct{}{}
	x.reads = append(x.reads, dep{c: target, index: name, value: value})
}

func (x *Ctx) readAll(target *coll) {
	x.check(target)
	target.allDeps[dependent{x.c, x.key}] = struct{}{}
	x.reads = append(x.reads, dep{c: target, all: true})
}
