package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingUpstream is a backend that records every complete request it
// receives (method, path as sent, selected headers, body).
type recordingUpstream struct {
	mu   sync.Mutex
	seen []string
}

func startRecordingUpstream(t *testing.T, name string) (*recordingUpstream, string, int) {
	t.Helper()
	u := &recordingUpstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			// A streamed body the gateway found malformed midway: the
			// upstream sees the request aborted, never complete.
			return
		}
		u.mu.Lock()
		u.seen = append(u.seen, fmt.Sprintf("%s %s fold=%q body=%q", r.Method, r.URL.RequestURI(), r.Header.Get("X-Fold"), body))
		u.mu.Unlock()
		fmt.Fprintf(w, "%s %s", name, r.URL.RequestURI())
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)
	return u, a.IP.String(), a.Port
}

func (u *recordingUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// raw sends one raw HTTP/1.1 request to the gateway and returns the status
// and body of the first response.
func (g *gateway) raw(req string) (int, string) {
	g.t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.port))
	if err != nil {
		g.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		g.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		g.t.Fatalf("no response to %q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRequestSmugglingAttempts: conflicting or ambiguous framing is either
// refused or re-framed; the upstream receives only the requests the
// gateway parsed, never one hidden in a body.
func TestRequestSmugglingAttempts(t *testing.T) {
	up, h, p := startRecordingUpstream(t, "api")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("api", h, p),
		"route.yaml":   routeTo("r", "", "/", "api", p),
	})
	smuggled := "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
	chunk := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)
	tests := []struct {
		name string
		req  string
		want int
		seen string // what the upstream received ("" = nothing)
	}{
		{"CL.TE: Transfer-Encoding wins, Content-Length is dropped",
			"POST /cl-te HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk, 200,
			fmt.Sprintf("POST /cl-te fold=\"\" body=%q", smuggled)},
		{"two different Content-Lengths", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd", 400, ""},
		{"Content-Length list", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 40\r\n\r\nabcd", 400, ""},
		{"negative Content-Length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, ""},
		{"unknown transfer coding", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n" + chunk, 501, ""},
		{"chunked not last", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n" + chunk, 501, ""},
		{"Transfer-Encoding twice", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk, 501, ""},
		{"space before the colon", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n" + chunk, 400, ""},
		{"bare LF after a chunk size", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, ""},
		{"NUL in a header value", "GET /x HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", 400, ""},
		{"obs-fold is unfolded to one space", "GET /fold HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n", 200, `GET /fold fold="a b" body=""`},
		{"bare LF line ends are re-framed", "GET /lf HTTP/1.1\nHost: a\nX-Fold: c\n\n", 200, `GET /lf fold="c" body=""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.requests())
			got, body := g.raw(tc.req)
			if got != tc.want {
				t.Fatalf("status %d (%q), want %d", got, body, tc.want)
			}
			seen := up.requests()[before:]
			switch {
			case tc.seen == "" && len(seen) != 0:
				t.Errorf("the upstream received %q for a refused request", seen)
			case tc.seen != "" && (len(seen) != 1 || seen[0] != tc.seen):
				t.Errorf("the upstream received %q, want exactly [%q]", seen, tc.seen)
			}
		})
	}
	for _, r := range up.requests() {
		if strings.HasPrefix(r, "GET /admin") {
			t.Errorf("a smuggled request reached the upstream: %q", r)
		}
	}
}

// TestInvalidHost: malformed, repeated or missing Host headers get 400; an
// unknown host gets 404 (no route), and the gateway keeps serving.
func TestInvalidHost(t *testing.T) {
	_, h, p := startRecordingUpstream(t, "web")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("web", h, p),
		"route.yaml":   routeTo("r", "www.example.com", "/", "web", p),
	})
	for _, tc := range []struct {
		name, req string
		want      int
	}{
		{"space in host", "GET / HTTP/1.1\r\nHost: www.example.com evil\r\n\r\n", 400},
		{"slash in host", "GET / HTTP/1.1\r\nHost: www.example.com/x\r\n\r\n", 400},
		{"two hosts", "GET / HTTP/1.1\r\nHost: www.example.com\r\nHost: evil.example\r\n\r\n", 400},
		{"no host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"unknown host", "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", 404},
		{"absolute form names the host", "GET http://www.example.com/x HTTP/1.1\r\nHost: evil.example\r\n\r\n", 200},
		{"host is case-insensitive, port ignored", "GET / HTTP/1.1\r\nHost: WWW.Example.COM:80\r\n\r\n", 200},
	} {
		if got, body := g.raw(tc.req); got != tc.want {
			t.Errorf("%s: status %d (%q), want %d", tc.name, got, body, tc.want)
		}
	}
}

// TestPathTraversalAgainstRoutes: dot segments, encoded dots and slashes,
// and doubled slashes cannot reach a route other than the one the
// normalized path names, and a rewrite cannot be walked out of.
func TestPathTraversalAgainstRoutes(t *testing.T) {
	pub, ph, pp := startRecordingUpstream(t, "public")
	adm, ah, ap := startRecordingUpstream(t, "admin")
	rewrite := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: static, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /files}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /public/files}}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: public, port: %d}]
`, pp)
	g := startGateway(t, map[string]string{
		"backends.yaml": staticBackend("public", ph, pp) + "---\n" + staticBackend("admin", ah, ap),
		"public.yaml":   routeTo("public", "", "/public", "public", pp),
		"admin.yaml":    routeTo("admin", "", "/admin", "admin", ap),
		"rewrite.yaml":  rewrite,
	})
	for _, tc := range []struct {
		path, want string // want "400" or "backend path-as-sent"
	}{
		{"/public/a", "public /public/a"},
		{"/public/../admin/x", "admin /admin/x"},
		{"/public/%2e%2e/admin/x", "admin /admin/x"},
		{"/public%2F..%2Fadmin/x", "admin /admin/x"},
		{"/public/./a/", "public /public/a/"},
		{"//admin/x", "admin /admin/x"},
		{"/public/..%2F..%2Fadmin", "400"},
		{"/../admin", "400"},
		{"/files/a/../b", "public /public/files/b"},
		{"/files/../../etc/passwd", "400"},
		{"/files/%2e%2e/%2e%2e/etc/passwd", "400"},
		{"/files/%2e%2e/admin", "admin /admin"},
		{"/public/a%2Fb", "public /public/a%2Fb"},
	} {
		got, body := g.raw("GET " + tc.path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		if tc.want == "400" {
			if got != http.StatusBadRequest {
				t.Errorf("%s: %d %q, want 400", tc.path, got, body)
			}
			continue
		}
		if got != 200 || body != tc.want {
			t.Errorf("%s: %d %q, want 200 %q", tc.path, got, body, tc.want)
		}
	}
	for _, r := range pub.requests() {
		if strings.Contains(r, "..") || strings.Contains(r, "admin") || strings.Contains(r, "passwd") {
			t.Errorf("public backend received %q", r)
		}
	}
	if n := len(adm.requests()); n != 5 {
		t.Errorf("admin backend received %d requests, want 5: %q", n, adm.requests())
	}
}

// TestHeaderFloods: too many header fields get 431 (the default limit is
// 100), as does an oversized header block; the gateway keeps serving.
func TestHeaderFloods(t *testing.T) {
	_, h, p := startRecordingUpstream(t, "web")
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("web", h, p),
		"route.yaml":   routeTo("r", "", "/", "web", p),
	})
	headers := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "X-H-%d: v\r\n", i)
		}
		return b.String()
	}
	if got, _ := g.raw("GET / HTTP/1.1\r\nHost: a\r\n" + headers(99) + "\r\n"); got != 200 {
		t.Errorf("99 header fields: %d, want 200", got)
	}
	if got, _ := g.raw("GET / HTTP/1.1\r\nHost: a\r\n" + headers(500) + "\r\n"); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("500 header fields: %d, want 431", got)
	}
	if got, _ := g.raw("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 70<<10) + "\r\n\r\n"); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("70 KiB header: %d, want 431", got)
	}
	if got, _ := g.raw("GET / HTTP/1.1\r\nHost: a\r\n\r\n"); got != 200 {
		t.Errorf("after the floods: %d", got)
	}
}
