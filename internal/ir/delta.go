package ir

// Delta is one change to a proxy's IR: the resources to add or replace and the
// IDs to remove. A proxy applies deltas in Version order.
type Delta struct {
	// Version increases with every delta sent to a proxy.
	Version uint64 `json:"version"`
	// Upserts add or replace resources by ID.
	Upserts []Resource `json:"-"`
	// Removes deletes resources by ID; removing an absent ID is not an error.
	Removes []ID `json:"removes,omitempty"`
}

// Rejection reports that a proxy refused one resource of a delta. The proxy
// keeps serving the previous version of that resource (or nothing, if it had
// none) and the rest of the delta takes effect.
type Rejection struct {
	ID     ID     `json:"id"`
	Reason string `json:"reason"`
}
