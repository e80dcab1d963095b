// Package proxy is Gatehouse's data plane. It applies IR deltas to its last
// good configuration, compiles them into immutable tables (router, upstream
// registry, certificates) swapped atomically, and serves requests:
//
//	listener (bind) -> TLS/SNI -> route match (listener isolation, precedence)
//	  -> rule filters (headers, rewrite, redirect, CORS, mirror)
//	  -> weighted backend pick -> backend filters
//	  -> upstream (P2C over healthy endpoints, pooled) -> response filters
//
// A resource that fails to compile is rejected with a reason and the previous
// version of it stays in force; the rest of the delta takes effect.
package proxy
