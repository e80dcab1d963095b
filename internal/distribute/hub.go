// Package distribute carries IR changes from translation to proxies as
// deltas. The Hub keeps the current IR; each Subscription receives the full
// set once, then only what changed, coalesced while the proxy is busy. This
// package holds the in-process transport used by `gatehouse run`.
package distribute

import (
	"context"
	"sort"
	"sync"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Hub holds the current IR and fans changes out to subscriptions.
type Hub struct {
	mu    sync.Mutex
	state map[ir.ID]ir.Resource
	subs  map[*Subscription]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{state: map[ir.ID]ir.Resource{}, subs: map[*Subscription]struct{}{}}
}

// Publish records a change and queues it for every subscription. It never
// blocks on a proxy.
func (h *Hub) Publish(upserts []ir.Resource, removes []ir.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range removes {
		delete(h.state, id)
	}
	for _, r := range upserts {
		h.state[r.ResourceID()] = r
	}
	for s := range h.subs {
		s.queue(upserts, removes)
	}
}

// Len returns the number of resources in the current IR.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.state)
}

// Subscribe starts a subscription whose first delta is the whole current IR.
func (h *Hub) Subscribe() *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &Subscription{h: h, pending: map[ir.ID]ir.Resource{}, signal: make(chan struct{}, 1)}
	all := make([]ir.Resource, 0, len(h.state))
	for _, r := range h.state {
		all = append(all, r)
	}
	s.queue(all, nil)
	s.signalAlways()
	h.subs[s] = struct{}{}
	return s
}

// Subscription is one proxy's view of the hub.
type Subscription struct {
	h       *Hub
	mu      sync.Mutex
	pending map[ir.ID]ir.Resource // nil value: remove
	signal  chan struct{}
	version uint64
	first   bool

	acked      uint64
	rejections []ir.Rejection
}

func (s *Subscription) queue(upserts []ir.Resource, removes []ir.ID) {
	s.mu.Lock()
	for _, id := range removes {
		s.pending[id] = nil
	}
	for _, r := range upserts {
		s.pending[r.ResourceID()] = r
	}
	s.mu.Unlock()
	s.signalAlways()
}

func (s *Subscription) signalAlways() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// Next blocks until there are changes and returns them as one delta: every
// change queued since the previous call, coalesced per resource.
func (s *Subscription) Next(ctx context.Context) (ir.Delta, error) {
	for {
		select {
		case <-ctx.Done():
			return ir.Delta{}, ctx.Err()
		case <-s.signal:
		}
		s.mu.Lock()
		if len(s.pending) == 0 && s.first {
			s.mu.Unlock()
			continue
		}
		s.first = true
		s.version++
		d := ir.Delta{Version: s.version}
		for id, r := range s.pending {
			if r == nil {
				d.Removes = append(d.Removes, id)
			} else {
				d.Upserts = append(d.Upserts, r)
			}
		}
		s.pending = map[ir.ID]ir.Resource{}
		s.mu.Unlock()
		sortDelta(&d)
		return d, nil
	}
}

// sortDelta orders a delta deterministically (by kind, then name) so logs and
// tests are stable.
func sortDelta(d *ir.Delta) {
	sort.Slice(d.Upserts, func(a, b int) bool { return idLess(d.Upserts[a].ResourceID(), d.Upserts[b].ResourceID()) })
	sort.Slice(d.Removes, func(a, b int) bool { return idLess(d.Removes[a], d.Removes[b]) })
}

func idLess(a, b ir.ID) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.Name < b.Name
}

// Report records the proxy's answer to a delta: an ACK when rejections is
// empty, a NACK with reasons otherwise.
func (s *Subscription) Report(version uint64, rejections []ir.Rejection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = version
	s.rejections = append([]ir.Rejection(nil), rejections...)
}

// Acked returns the last version the proxy answered and its rejections.
func (s *Subscription) Acked() (uint64, []ir.Rejection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked, append([]ir.Rejection(nil), s.rejections...)
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
}
