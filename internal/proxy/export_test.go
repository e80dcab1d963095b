package proxy

import "net/http"

// BindHandlerForTest returns the request handler of the named bind without
// opening a socket, for benchmarks in package proxy_test.
func BindHandlerForTest(p *Proxy, bind string) http.Handler {
	return &bindHandler{p: p, bind: bind, port: 80, scheme: "http"}
}
