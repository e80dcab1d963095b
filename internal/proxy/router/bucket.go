package router

import (
	"net/http"
	"slices"
)

// bucket holds the rules of one listener that serve one hostname (or any
// host). Exact paths and prefixes are indexed by their value, so a lookup
// costs one map access per path element rather than a scan of the rules;
// only regex matches are scanned. Each group is sorted by compareEntries.
type bucket struct {
	exact  cowMap[[]*entry] // exact path -> entries
	prefix cowMap[[]*entry] // prefix without trailing "/" -> entries
	regex  []*entry
}

func (b *bucket) empty() bool {
	return b.exact.len() == 0 && b.prefix.len() == 0 && len(b.regex) == 0
}

// lookup returns the highest-precedence entry matching the request, and nil
// when none does. It does not allocate.
func (b *bucket) lookup(path string, r *http.Request) *entry {
	if b.exact.len() > 0 {
		if g, ok := b.exact.get(path); ok {
			if e := firstMatching(g, r); e != nil {
				return e
			}
		}
	}
	if b.prefix.len() > 0 {
		// Candidate prefixes of path on element boundaries, longest first:
		// the path itself, then every part before a "/", down to "" (the
		// prefix "/").
		if g, ok := b.prefix.get(path); ok {
			if e := firstMatching(g, r); e != nil {
				return e
			}
		}
		for i := len(path) - 1; i >= 0; i-- {
			if path[i] != '/' {
				continue
			}
			if g, ok := b.prefix.get(path[:i]); ok {
				if e := firstMatching(g, r); e != nil {
					return e
				}
			}
		}
	}
	for _, e := range b.regex {
		if e.match.pathRE.MatchString(path) && e.match.matchesRest(r) {
			return e
		}
	}
	return nil
}

func firstMatching(g []*entry, r *http.Request) *entry {
	for _, e := range g {
		if e.match.matchesRest(r) {
			return e
		}
	}
	return nil
}

// bucketChange is what one Update does to one bucket.
type bucketChange struct {
	removed []*Route
	added   []*Route
}

// apply returns a new bucket with change applied, sharing every group it
// does not touch with b (which may be nil for a new bucket).
func (b *bucket) apply(ch *bucketChange) *bucket {
	nb := &bucket{}
	if b != nil {
		*nb = *b
	}
	gone := make(map[*Route]bool, len(ch.removed))
	for _, r := range ch.removed {
		gone[r] = true
	}
	exactAdd := map[string][]*entry{}
	prefixAdd := map[string][]*entry{}
	regexTouched := false
	for _, r := range ch.removed {
		for _, e := range r.entries {
			switch e.match.kind {
			case kindExact:
				exactAdd[e.match.key] = exactAdd[e.match.key][:0:0]
			case kindPrefix:
				prefixAdd[e.match.key] = prefixAdd[e.match.key][:0:0]
			case kindRegex:
				regexTouched = true
			}
		}
	}
	var regexAdd []*entry
	for _, r := range ch.added {
		for _, e := range r.entries {
			switch e.match.kind {
			case kindExact:
				exactAdd[e.match.key] = append(exactAdd[e.match.key], e)
			case kindPrefix:
				prefixAdd[e.match.key] = append(prefixAdd[e.match.key], e)
			case kindRegex:
				regexAdd = append(regexAdd, e)
				regexTouched = true
			}
		}
	}
	nb.exact = rebuildGroups(nb.exact, exactAdd, gone)
	nb.prefix = rebuildGroups(nb.prefix, prefixAdd, gone)
	if regexTouched {
		nb.regex = mergeGroup(nb.regex, regexAdd, gone)
	}
	return nb
}

// rebuildGroups rewrites the groups named in touched: old entries of routes
// in gone are dropped and the touched entries added.
func rebuildGroups(m cowMap[[]*entry], touched map[string][]*entry, gone map[*Route]bool) cowMap[[]*entry] {
	if len(touched) == 0 {
		return m
	}
	ed := m.edit()
	for key, add := range touched {
		old, _ := ed.get(key)
		if g := mergeGroup(old, add, gone); len(g) > 0 {
			ed.set(key, g)
		} else {
			ed.del(key)
		}
	}
	return ed.done()
}

// mergeGroup returns a new sorted group: old without the entries of gone
// routes, plus add. old is never modified (other table versions share it).
func mergeGroup(old, add []*entry, gone map[*Route]bool) []*entry {
	g := make([]*entry, 0, len(old)+len(add))
	for _, e := range old {
		if !gone[e.route] {
			g = append(g, e)
		}
	}
	g = append(g, add...)
	slices.SortFunc(g, compareEntries)
	if len(g) == 0 {
		return nil
	}
	return g
}
