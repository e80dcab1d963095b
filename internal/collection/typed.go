package collection

import (
	"fmt"
	"sort"
)

// Collection is a typed, read-only view of a keyed collection.
type Collection[T any] struct{ c *coll }

// Name returns the collection's name (for logs and errors).
func (c Collection[T]) Name() string { return c.c.name }

// Input is a collection that sources write to through a Writer.
type Input[T any] struct{ Collection[T] }

// Entry is one output of a transformation.
type Entry[T any] struct {
	Key   string
	Value T
}

// Change is one changed key of a collection, delivered to subscribers. Old is
// the zero value when the key is new; New is the zero value when it was deleted.
type Change[T any] struct {
	Key     string
	Old     T
	New     T
	Deleted bool
	Added   bool
}

// Index is a secondary index of a collection: a function from an item to the
// values it is found under.
type Index[T any] struct {
	c    *coll
	name string
}

// NewInput creates an input collection. eq decides whether a write changes
// anything; nil means reflect.DeepEqual.
func NewInput[T any](e *Engine, name string, eq func(a, b T) bool) *Input[T] {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &Input[T]{Collection[T]{e.newColl(name, wrapEq(eq))}}
}

// Derive creates a collection computed from primary: for each primary key,
// fn returns the outputs (zero or more entries whose keys are unique across
// the whole collection). fn must be pure and read other collections only
// through ctx.
func Derive[I, O any](e *Engine, name string, primary Collection[I], eq func(a, b O) bool,
	fn func(ctx *Ctx, key string, in I) []Entry[O]) Collection[O] {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.newColl(name, wrapEq(eq))
	c.primary = primary.c
	c.outKeys = map[string][]string{}
	c.reads = map[string][]dep{}
	c.transform = func(ctx *Ctx, key string, v any) []entry {
		outs := fn(ctx, key, v.(I))
		res := make([]entry, len(outs))
		for i, o := range outs {
			res[i] = entry{o.Key, o.Value}
		}
		return res
	}
	primary.c.derived = append(primary.c.derived, c)
	for k := range primary.c.items {
		e.markDirty(c, k)
	}
	e.settle()
	return Collection[O]{c}
}

// Map is Derive for a one-to-one transformation: the output keeps the primary
// key; ok=false produces no output.
func Map[I, O any](e *Engine, name string, primary Collection[I], eq func(a, b O) bool,
	fn func(ctx *Ctx, key string, in I) (O, bool)) Collection[O] {
	return Derive(e, name, primary, eq, func(ctx *Ctx, key string, in I) []Entry[O] {
		out, ok := fn(ctx, key, in)
		if !ok {
			return nil
		}
		return []Entry[O]{{key, out}}
	})
}

func wrapEq[T any](eq func(a, b T) bool) func(a, b any) bool {
	if eq == nil {
		return nil
	}
	return func(a, b any) bool { return eq(a.(T), b.(T)) }
}

// AddIndex adds a secondary index. It must be called before the collection is
// read through the index, normally right after creating the collection.
func AddIndex[T any](c Collection[T], name string, fn func(T) []string) Index[T] {
	c.c.e.mu.Lock()
	defer c.c.e.mu.Unlock()
	if _, dup := c.c.indexes[name]; dup {
		panic(fmt.Sprintf("collection %s: index %s defined twice", c.c.name, name))
	}
	ix := &index{name: name, fn: func(v any) []string { return fn(v.(T)) }, byValue: map[string]map[string]struct{}{}}
	for k, v := range c.c.items {
		for _, val := range ix.fn(v) {
			if ix.byValue[val] == nil {
				ix.byValue[val] = map[string]struct{}{}
			}
			ix.byValue[val][k] = struct{}{}
		}
	}
	c.c.indexes[name] = ix
	return Index[T]{c.c, name}
}

// Fetch reads one key and records the dependency.
func Fetch[T any](ctx *Ctx, c Collection[T], key string) (T, bool) {
	ctx.readKey(c.c, key)
	v, ok := c.c.items[key]
	if !ok {
		var zero T
		return zero, false
	}
	return v.(T), true
}

// FetchIndex reads every item whose index values include value, sorted by
// key, and records the dependency on that index value.
func FetchIndex[T any](ctx *Ctx, ix Index[T], value string) []Entry[T] {
	ctx.readIndex(ix.c, ix.name, value)
	keys := ix.c.indexes[ix.name].byValue[value]
	return sortedEntries[T](ix.c, keys)
}

// List reads the whole collection, sorted by key, and records a dependency on
// every key. Use sparingly: any change recomputes the reader.
func List[T any](ctx *Ctx, c Collection[T]) []Entry[T] {
	ctx.readAll(c.c)
	return c.all()
}

func sortedEntries[T any](c *coll, keys map[string]struct{}) []Entry[T] {
	out := make([]Entry[T], 0, len(keys))
	for k := range keys {
		out = append(out, Entry[T]{k, c.items[k].(T)})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out
}

func (c Collection[T]) all() []Entry[T] {
	out := make([]Entry[T], 0, len(c.c.items))
	for k, v := range c.c.items {
		out = append(out, Entry[T]{k, v.(T)})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out
}

// Snapshot returns every item sorted by key, without recording a dependency.
// It is for readers outside the engine (tests, dumps).
func (c Collection[T]) Snapshot() []Entry[T] {
	c.c.e.mu.Lock()
	defer c.c.e.mu.Unlock()
	return c.all()
}

// Peek returns every item sorted by key without taking the engine lock. It is
// only for AfterBatch hooks and subscribers, which run under the lock.
func (c Collection[T]) Peek() []Entry[T] { return c.all() }

// Get reads one key without recording a dependency (for readers outside the
// engine).
func (c Collection[T]) Get(key string) (T, bool) {
	c.c.e.mu.Lock()
	defer c.c.e.mu.Unlock()
	v, ok := c.c.items[key]
	if !ok {
		var zero T
		return zero, false
	}
	return v.(T), true
}

// Len returns the number of items.
func (c Collection[T]) Len() int {
	c.c.e.mu.Lock()
	defer c.c.e.mu.Unlock()
	return len(c.c.items)
}

// Subscribe registers fn to be called, under the engine lock and once per
// batch, with the changed keys of the collection sorted by key. fn must not
// call back into the engine.
func (c Collection[T]) Subscribe(fn func([]Change[T])) {
	c.c.e.mu.Lock()
	defer c.c.e.mu.Unlock()
	c.c.subs = append(c.c.subs, func(chs []change) {
		out := make([]Change[T], len(chs))
		for i, ch := range chs {
			o := Change[T]{Key: ch.key, Deleted: !ch.hasNew, Added: !ch.hadOld}
			if ch.hadOld {
				o.Old = ch.old.(T)
			}
			if ch.hasNew {
				o.New = ch.new.(T)
			}
			out[i] = o
		}
		fn(out)
	})
}

// Writer stages input changes inside Engine.Update.
type Writer struct{ e *Engine }

// Set writes v under key.
func (in *Input[T]) Set(w *Writer, key string, v T) { in.c.set(key, v, false) }

// Delete removes key.
func (in *Input[T]) Delete(w *Writer, key string) { in.c.set(key, nil, true) }

// Update applies the writes made by fn as one batch, recomputes what depends
// on them, and notifies subscribers before returning.
func (e *Engine) Update(fn func(w *Writer)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(&Writer{e})
	e.stats.Batches++
	e.settle()
}

// IndexCounts returns a collection keyed by the index's values whose items
// are the number of members carrying that value. It lets a transformation run
// once per group (e.g. once per port shared by several Gateways): use it as
// the primary of Map and read the members with FetchIndex. An item changes
// only when its count does, so a group of thousands costs O(1) per change.
func IndexCounts[T any](ix Index[T]) Collection[int] {
	e := ix.c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	x := ix.c.indexes[ix.name]
	if x.groups == nil {
		x.groups = e.newColl(ix.c.name+"/"+ix.name, nil)
		for v := range x.byValue {
			x.syncGroup(v)
		}
		x.groups.pending = map[string]change{}
	}
	return Collection[int]{x.groups}
}

// CountIndex returns how many items carry value in the index and records the
// dependency, without building the member list.
func CountIndex[T any](ctx *Ctx, ix Index[T], value string) int {
	ctx.readIndex(ix.c, ix.name, value)
	return len(ix.c.indexes[ix.name].byValue[value])
}

// AfterBatch registers fn to run, under the engine lock, at the end of every
// batch after all subscribers were told. Subscribers that accumulate changes
// from several collections flush them here, so a batch stays one unit.
func (e *Engine) AfterBatch(fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.after = append(e.after, fn)
}
