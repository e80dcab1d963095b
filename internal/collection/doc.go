// Package collection is Gatehouse's incremental computation engine.
//
// Inputs are keyed stores that sources write to. Derived collections are
// computed from a primary collection by a pure function, one call per primary
// key, that may read other collections only through a Ctx (Fetch, FetchIndex,
// List). Every read is recorded as a dependency. When an input changes, only
// the derived entries that read the changed key (or an index value it entered
// or left, or the whole collection) are recomputed, and an output that comes out
// equal to its previous value emits no change. Changes ripple through chains
// of derived collections in creation order, which is a topological order
// because a transformation may only read collections created before its own.
//
// All updates are applied in batches under one lock (Engine.Update), so
// transformations run single-threaded and deterministically; subscribers are
// told about every changed output key once per batch, after the batch settles.
package collection
