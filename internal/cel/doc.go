// Package cel is Gatehouse's shared CEL environment: the control plane compiles
// user expressions with it (and reports *CompileError in status), the proxy
// evaluates the compiled Programs per request.
//
// # Evaluation model
//
// Expressions are compiled once, at config load, into a Program. A request is
// exposed to a Program through a Context, which implements cel-go's
// interpreter.Activation directly: variable names are resolved by a switch, and
// the variables are views over the live request (request, response, source,
// backend, llm are CEL object types whose field getters read the *http.Request
// in place; headers are a traits.Mapper over http.Header). Nothing is copied
// into a map per request, so building a Context costs no allocation and
// reading method, path, host or a header allocates nothing either.
//
// Zero-copy strings: to hand cel-go a string without boxing it on the heap,
// string, bytes, int64, duration and timestamp values read from the request
// are returned as CEL values that alias the Go field they came from (see
// alias.go). Values returned by Eval are therefore only valid while the request
// and the Context are unchanged; EvalString and EvalBool return plain Go values
// and are always safe to keep.
//
// # Variables
//
//	request   gatehouse.Request  {method, scheme, host, path, query, headers, body, size, startTime}
//	response  gatehouse.Response {code, headers, size, duration, body}
//	source    gatehouse.Source   {address, port, identity}
//	backend   gatehouse.Backend  {name, endpoint}
//	llm       gatehouse.LLM      {requestModel, responseModel, promptTokens, completionTokens, totalTokens}
//	jwt       map(string, dyn)   verified JWT claims
//	gateway, listener, route     string
//
// Header maps are looked up case-insensitively (the key is canonicalised as
// net/http stores it). A header with several field lines yields its values
// joined with "," (so a policy on a repeated header sees all of them, never just
// the one an attacker put first). Iterating a header map yields lower-case names.
// request.query yields the first value of a parameter.
//
// # Functions
//
// Besides the cel-go extension libraries (strings, math, lists, sets, encoders
// i.e. base64.encode/base64.decode, network i.e. ip/cidr, regex, bindings,
// optional types):
//
//	json(bytes|string) -> dyn        parse JSON; json(request.body) is parsed at most once per Context
//	toJson(dyn) -> string            serialise a value as JSON
//	sha256(string|bytes) -> string   lower-case hex digest
//	regexReplace(s, pattern, repl)   RE2 replace-all; repl may use $1, ${name}; literal patterns compile once
//	default(value, fallback)         fallback when value is an error (missing key or field, bad JSON, ...) or null
//	<ip>.isPrivate() -> bool         RFC 1918 / RFC 4193 address
//
// # Fast path
//
// Compile also translates the common shapes (variable fields and headers,
// comparisons with literals, startsWith/endsWith/contains/matches with a
// literal, &&, ||, !, in a literal list, <map>.exists(k, ...),
// json(request.body).field) into Go closures over the Context (fastpath.go);
// an expression with any other node runs in cel-go's interpreter. The closures
// reuse the interpreter's field getters and equality, and
// FuzzFastPathMatchesCEL checks that both give the same result. Programs with
// a runtime cost limit always use the interpreter.
//
// See Program.Uses for what a proxy must prepare (buffer a body, verify a JWT)
// before evaluating, and Program.CostEstimate for the static cost bound.
package cel
