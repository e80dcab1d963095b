package router

// cowMap is an immutable string-keyed map whose edits copy only what they
// touch. Small maps are one plain map copied on edit; once a map grows past
// flatLimit it is split into shardCount shards and an edit copies the shard
// array (a few KB) plus the shards it writes. This is what lets Update cost
// O(change) on tables with thousands of hostnames and routes, while a lookup
// stays one hash plus one map access.
type cowMap[V any] struct {
	flat   map[string]V
	shards *[shardCount]map[string]V
	n      int
}

const (
	shardCount = 256
	flatLimit  = 128
)

// shardOf is FNV-1a over the key: cheap for host names and paths, and stable
// across table versions (the shard layout is shared between them).
func shardOf(k string) int {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return int(h % shardCount)
}

func (m cowMap[V]) get(k string) (V, bool) {
	if m.shards != nil {
		v, ok := m.shards[shardOf(k)][k]
		return v, ok
	}
	v, ok := m.flat[k]
	return v, ok
}

func (m cowMap[V]) len() int { return m.n }

// each calls fn for every entry in no particular order.
func (m cowMap[V]) each(fn func(string, V)) {
	if m.shards == nil {
		for k, v := range m.flat {
			fn(k, v)
		}
		return
	}
	for _, s := range m.shards {
		for k, v := range s {
			fn(k, v)
		}
	}
}

// cowEditor batches edits to a cowMap: each shard (or the flat map) is copied
// at most once per batch, on its first write.
type cowEditor[V any] struct {
	m      cowMap[V]
	copied [shardCount]bool
	flatOK bool // the flat map is already a private copy
	shrdOK bool // the shard array is already a private copy
}

func (m cowMap[V]) edit() *cowEditor[V] { return &cowEditor[V]{m: m} }

func (e *cowEditor[V]) get(k string) (V, bool) { return e.m.get(k) }

func (e *cowEditor[V]) set(k string, v V) {
	if e.m.shards == nil && e.m.n >= flatLimit {
		e.split()
	}
	if e.m.shards == nil {
		e.ownFlat()
		if _, ok := e.m.flat[k]; !ok {
			e.m.n++
		}
		e.m.flat[k] = v
		return
	}
	s := e.ownShard(shardOf(k))
	if _, ok := s[k]; !ok {
		e.m.n++
	}
	s[k] = v
}

func (e *cowEditor[V]) del(k string) {
	if _, ok := e.m.get(k); !ok {
		return
	}
	e.m.n--
	if e.m.shards == nil {
		e.ownFlat()
		delete(e.m.flat, k)
		return
	}
	delete(e.ownShard(shardOf(k)), k)
}

func (e *cowEditor[V]) done() cowMap[V] { return e.m }

func (e *cowEditor[V]) ownFlat() {
	if e.flatOK {
		return
	}
	flat := make(map[string]V, len(e.m.flat)+1)
	for k, v := range e.m.flat {
		flat[k] = v
	}
	e.m.flat, e.flatOK = flat, true
}

func (e *cowEditor[V]) ownShard(i int) map[string]V {
	if !e.shrdOK {
		arr := *e.m.shards
		e.m.shards, e.shrdOK = &arr, true
	}
	if !e.copied[i] {
		old := e.m.shards[i]
		s := make(map[string]V, len(old)+1)
		for k, v := range old {
			s[k] = v
		}
		e.m.shards[i], e.copied[i] = s, true
	}
	return e.m.shards[i]
}

// split turns the flat map into shards; every shard is new, hence owned.
func (e *cowEditor[V]) split() {
	var arr [shardCount]map[string]V
	for k, v := range e.m.flat {
		i := shardOf(k)
		if arr[i] == nil {
			arr[i] = make(map[string]V)
		}
		arr[i][k] = v
		e.copied[i] = true
	}
	// Shards left nil read as empty; ownShard replaces them on first write.
	e.m.flat, e.m.shards, e.shrdOK = nil, &arr, true
}
