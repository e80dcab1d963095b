// Package filter compiles the filters of an HTTPRoute rule (or of one of its
// backendRefs) into a Chain once, when the route table is built, so that the
// request path only runs precomputed steps: canonical header names, joined
// CORS header values and parsed redirect targets are all prepared ahead of
// time.
//
// A Chain has three faces, matching the phases of a proxied request:
//
//   - Request runs the request-phase filters in the order the user wrote them
//     (RequestHeaderModifier, URLRewrite, RequestRedirect, CORS preflight).
//     RequestRedirect and a CORS preflight answer the request themselves and
//     stop the chain.
//   - Response runs the response-phase filters (ResponseHeaderModifier and the
//     CORS response headers) on the upstream response headers before they are
//     written to the client.
//   - Mirrors lists the RequestMirror filters; the caller sends the copies.
//
// A nil *Chain is valid and does nothing, so routes without filters cost
// nothing on the hot path.
package filter
