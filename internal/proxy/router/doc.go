// Package router compiles listeners and HTTPRoute rules into an immutable
// route table and matches requests against it.
//
// Matching follows the Gateway API HTTPRoute spec in three steps:
//
//  1. Listener: on the bind the request arrived on, the listener with the
//     most specific hostname that matches the host (exact, then the longest
//     wildcard, then no hostname). Only rules attached to that listener are
//     considered (listener isolation).
//  2. Hostname bucket: the rules of the listener whose hostname equals the
//     host, then those whose wildcard matches (longest suffix first), then
//     those without hostnames. The first bucket with a matching rule wins.
//  3. Match precedence within the bucket: exact path, longest path prefix,
//     regex path; then method, more header matches, more query matches; then
//     the oldest route, alphabetical namespace/name, rule order and match
//     order.
//
// Every step is an index lookup (maps keyed by host, wildcard suffix, exact
// path and path prefix), so matching cost depends on the host's label count
// and the path's depth, not on the number of rules, and does not allocate.
//
// Update derives a new table from an old one by rebuilding only the buckets
// the changed rules live in; the indexes are copy-on-write maps sharded so
// that an edit copies a small part of a large map (see cowMap).
//
// Regular expressions (path, header, query) use Go's RE2 syntax and must
// match the whole value. A header sent more than once is matched as its
// values joined by ",". Query parameters are matched on their first value.
package router
