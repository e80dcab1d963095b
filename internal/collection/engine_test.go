package collection

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
)

// graph is a small pipeline that exercises every kind of read: key fetches,
// index fetches, whole-collection lists and a chain of derived collections.
type graph struct {
	e      *Engine
	nums   *Input[int]      // "n0".."n9" -> value
	groups *Input[[]string] // "g0".. -> keys of nums
	sums   Collection[int]  // per group: sum of the fetched nums
	parity Collection[[]string]
	total  Collection[int]
}

func newGraph() *graph {
	g := &graph{e: NewEngine()}
	g.nums = NewInput[int](g.e, "nums", nil)
	byParity := AddIndex(g.nums.Collection, "parity", func(v int) []string {
		return []string{strconv.Itoa(v & 1)}
	})
	g.groups = NewInput[[]string](g.e, "groups", nil)
	g.sums = Map(g.e, "sums", g.groups.Collection, nil, func(ctx *Ctx, key string, members []string) (int, bool) {
		sum := 0
		for _, m := range members {
			if v, ok := Fetch(ctx, g.nums.Collection, m); ok {
				sum += v
			}
		}
		return sum, len(members) > 0
	})
	// One output per group: the keys of nums with the same parity as the sum.
	g.parity = Map(g.e, "parity", g.sums, nil, func(ctx *Ctx, key string, sum int) ([]string, bool) {
		var keys []string
		for _, en := range FetchIndex(ctx, byParity, strconv.Itoa(sum&1)) {
			keys = append(keys, en.Key)
		}
		return keys, true
	})
	// Fan-in: one output key per distinct sum value, reading all sums.
	g.total = Derive(g.e, "total", g.groups.Collection, nil, func(ctx *Ctx, key string, _ []string) []Entry[int] {
		n := 0
		for _, en := range List(ctx, g.sums) {
			n += en.Value
		}
		return []Entry[int]{{Key: key, Value: n}}
	})
	return g
}

type op struct {
	group   bool
	key     string
	num     int
	members []string
	del     bool
}

func randomOps(r *rand.Rand, n int) []op {
	ops := make([]op, n)
	for i := range ops {
		o := op{group: r.IntN(3) == 0, del: r.IntN(5) == 0}
		if o.group {
			o.key = "g" + strconv.Itoa(r.IntN(5))
			for j := r.IntN(4); j > 0; j-- {
				o.members = append(o.members, "n"+strconv.Itoa(r.IntN(10)))
			}
		} else {
			o.key = "n" + strconv.Itoa(r.IntN(10))
			o.num = r.IntN(7)
		}
		ops[i] = o
	}
	return ops
}

func (g *graph) apply(w *Writer, o op) {
	switch {
	case o.group && o.del:
		g.groups.Delete(w, o.key)
	case o.group:
		g.groups.Set(w, o.key, o.members)
	case o.del:
		g.nums.Delete(w, o.key)
	default:
		g.nums.Set(w, o.key, o.num)
	}
}

func (g *graph) state() string {
	return fmt.Sprint(g.sums.Snapshot(), g.parity.Snapshot(), g.total.Snapshot())
}

// TestIncrementalEqualsFromScratch is the engine's correctness property: for
// random event sequences applied in random batches, the derived collections
// equal those of a fresh engine fed only the final inputs.
func TestIncrementalEqualsFromScratch(t *testing.T) {
	for seed := uint64(0); seed < 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		inc := newGraph()
		ops := randomOps(r, 60)
		for i := 0; i < len(ops); {
			n := 1 + r.IntN(5)
			batch := ops[i:min(i+n, len(ops))]
			inc.e.Update(func(w *Writer) {
				for _, o := range batch {
					inc.apply(w, o)
				}
			})
			i += n
		}
		fresh := newGraph()
		fresh.e.Update(func(w *Writer) {
			for _, en := range inc.nums.Snapshot() {
				fresh.nums.Set(w, en.Key, en.Value)
			}
			for _, en := range inc.groups.Snapshot() {
				fresh.groups.Set(w, en.Key, en.Value)
			}
		})
		if got, want := inc.state(), fresh.state(); got != want {
			t.Fatalf("seed %d: incremental\n%s\n!= from scratch\n%s", seed, got, want)
		}
	}
}

func TestOnlyDependentsRecompute(t *testing.T) {
	g := newGraph()
	g.e.Update(func(w *Writer) {
		for i := 0; i < 10; i++ {
			g.nums.Set(w, "n"+strconv.Itoa(i), i*2) // all even
		}
		g.groups.Set(w, "g0", []string{"n0", "n1"})
		g.groups.Set(w, "g1", []string{"n2"})
	})
	before := g.e.Stats().Recomputes
	// n5 is fetched by no group; only the two parity entries read it (through
	// the index value "0"), so exactly they recompute, and since their output
	// is unchanged nothing downstream does.
	g.e.Update(func(w *Writer) { g.nums.Set(w, "n5", 12) })
	if d := g.e.Stats().Recomputes - before; d != 2 {
		t.Fatalf("changing n5 recomputed %d entries, want 2", d)
	}
	// n2 is read only by g1: sums[g1], then parity[g0] and parity[g1] (index
	// value "0" changed content) and total[g0], total[g1] (they list sums).
	before = g.e.Stats().Recomputes
	g.e.Update(func(w *Writer) { g.nums.Set(w, "n2", 100) })
	if d := g.e.Stats().Recomputes - before; d != 5 {
		t.Fatalf("changing n2 recomputed %d entries, want 5", d)
	}
}

func TestEqualOutputEmitsNoChange(t *testing.T) {
	g := newGraph()
	var events [][]Change[int]
	g.sums.Subscribe(func(c []Change[int]) { events = append(events, c) })
	g.e.Update(func(w *Writer) {
		g.nums.Set(w, "n1", 1)
		g.nums.Set(w, "n2", 2)
		g.groups.Set(w, "g", []string{"n1", "n2"})
	})
	if len(events) != 1 || len(events[0]) != 1 || events[0][0].New != 3 || !events[0][0].Added {
		t.Fatalf("first batch: %+v", events)
	}
	// Swap the values: the sum stays 3, so no event.
	g.e.Update(func(w *Writer) {
		g.nums.Set(w, "n1", 2)
		g.nums.Set(w, "n2", 1)
	})
	if len(events) != 1 {
		t.Fatalf("equal output emitted a change: %+v", events[1:])
	}
	g.e.Update(func(w *Writer) { g.groups.Delete(w, "g") })
	if len(events) != 2 || !events[1][0].Deleted || events[1][0].Old != 3 {
		t.Fatalf("delete: %+v", events)
	}
}

func TestReadingLaterCollectionPanics(t *testing.T) {
	e := NewEngine()
	a := NewInput[int](e, "a", nil)
	var later Collection[int]
	bad := Map(e, "bad", a.Collection, nil, func(ctx *Ctx, key string, v int) (int, bool) {
		Fetch(ctx, later, key)
		return v, true
	})
	later = Map(e, "later", a.Collection, nil, func(ctx *Ctx, key string, v int) (int, bool) { return v, true })
	_ = bad
	defer func() {
		if recover() == nil {
			t.Fatal("reading a collection created later did not panic")
		}
	}()
	e.Update(func(w *Writer) { a.Set(w, "k", 1) })
}

func TestSnapshotIsSorted(t *testing.T) {
	e := NewEngine()
	in := NewInput[int](e, "in", nil)
	e.Update(func(w *Writer) {
		for _, k := range []string{"c", "a", "b"} {
			in.Set(w, k, 1)
		}
	})
	var keys []string
	for _, en := range in.Snapshot() {
		keys = append(keys, en.Key)
	}
	if !reflect.DeepEqual(keys, []string{"a", "b", "c"}) {
		t.Fatalf("keys %v", keys)
	}
}
