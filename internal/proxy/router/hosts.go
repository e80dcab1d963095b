package router

import (
	"net/http"
	"sort"

	"gatehouse.dev/gatehouse/internal/ir"
)

// hostIndex holds the buckets of one listener by route hostname.
type hostIndex struct {
	exact cowMap[*bucket] // "a.example.com" -> bucket
	wild  cowMap[*bucket] // ".example.com" (from "*.example.com") -> bucket
	any   *bucket         // routes without hostnames
}

func (hi *hostIndex) empty() bool {
	return hi.exact.len() == 0 && hi.wild.len() == 0 && hi.any == nil
}

// lookup tries the exact host bucket, then wildcard buckets from the longest
// suffix to the shortest, then the "any host" bucket; the first bucket with
// a matching rule wins.
func (hi *hostIndex) lookup(host, path string, r *http.Request) *entry {
	if b, ok := hi.exact.get(host); ok {
		if e := b.lookup(path, r); e != nil {
			return e
		}
	}
	if hi.wild.len() > 0 {
		// i > 0: "*.example.com" needs at least one label before the suffix.
		for i := 1; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if b, ok := hi.wild.get(host[i:]); ok {
				if e := b.lookup(path, r); e != nil {
					return e
				}
			}
		}
	}
	if hi.any != nil {
		return hi.any.lookup(path, r)
	}
	return nil
}

// apply returns a new index with the bucket changes applied (keys as in
// place.host); hi may be nil.
func (hi *hostIndex) apply(changes map[string]*bucketChange) *hostIndex {
	nh := &hostIndex{}
	if hi != nil {
		*nh = *hi
	}
	exact, wild := nh.exact.edit(), nh.wild.edit()
	for key, ch := range changes {
		ed := exact
		if len(key) > 0 && key[0] == '.' {
			ed = wild
		}
		if key == "" {
			nh.any = nh.any.apply(ch)
			if nh.any.empty() {
				nh.any = nil
			}
			continue
		}
		old, _ := ed.get(key)
		if b := old.apply(ch); b.empty() {
			ed.del(key)
		} else {
			ed.set(key, b)
		}
	}
	nh.exact, nh.wild = exact.done(), wild.done()
	return nh
}

// bindIndex selects the listener of a bind for a host.
type bindIndex struct {
	exact map[string]*ir.Listener
	wild  map[string]*ir.Listener // ".example.com" -> listener
	any   *ir.Listener
}

// newBindIndex indexes the listeners of one bind. Listeners with the same
// hostname conflict (the translator should have rejected one); the
// alphabetically first name wins so the choice is stable.
func newBindIndex(ls []*ir.Listener) *bindIndex {
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	bi := &bindIndex{exact: map[string]*ir.Listener{}, wild: map[string]*ir.Listener{}}
	for _, l := range ls {
		key := hostKey(l.Hostname)
		switch {
		case key == "":
			if bi.any == nil {
				bi.any = l
			}
		case key[0] == '.':
			if _, dup := bi.wild[key]; !dup {
				bi.wild[key] = l
			}
		default:
			if _, dup := bi.exact[key]; !dup {
				bi.exact[key] = l
			}
		}
	}
	return bi
}

// lookup returns the most specific listener for host: exact, then the
// longest wildcard suffix, then the listener without hostname.
func (bi *bindIndex) lookup(host string) *ir.Listener {
	if l, ok := bi.exact[host]; ok {
		return l
	}
	if len(bi.wild) > 0 {
		for i := 1; i < len(host); i++ {
			if host[i] == '.' {
				if l, ok := bi.wild[host[i:]]; ok {
					return l
				}
			}
		}
	}
	return bi.any
}
