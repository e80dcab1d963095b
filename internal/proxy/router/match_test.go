package router

import (
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

func TestListenerSelection(t *testing.T) {
	tbl := mustBuild(t, []*ir.Listener{
		listener("ns/gw/any", ":80", ""),
		listener("ns/gw/wild", ":80", "*.example.com"),
		listener("ns/gw/deeper", ":80", "*.b.example.com"),
		listener("ns/gw/exact", ":80", "A.example.com"),
		listener("ns/gw/other-bind", ":8080", "a.example.com"),
	}, nil)
	tests := []struct{ bind, host, want string }{
		{":80", "a.example.com", "ns/gw/exact"},
		{":80", "x.example.com", "ns/gw/wild"},
		{":80", "x.y.example.com", "ns/gw/wild"},
		{":80", "x.b.example.com", "ns/gw/deeper"},
		{":80", "b.example.com", "ns/gw/wild"},
		{":80", "example.com", "ns/gw/any"},
		{":80", "a.example.com.", "ns/gw/exact"},
		{":80", "other.org", "ns/gw/any"},
		{":8080", "a.example.com", "ns/gw/other-bind"},
		{":8080", "b.example.com", ""},
		{":9999", "a.example.com", ""},
	}
	for _, tt := range tests {
		got := ""
		if l := tbl.Listener(tt.bind, tt.host); l != nil {
			got = l.Name
		}
		if got != tt.want {
			t.Errorf("Listener(%q, %q) = %q, want %q", tt.bind, tt.host, got, tt.want)
		}
		res := tbl.Match(tt.bind, tt.host, request("GET", "/"))
		if (res.Listener == nil) != (tt.want == "") || (res.Listener != nil && res.Listener.Name != tt.want) {
			t.Errorf("Match(%q, %q).Listener = %v, want %q", tt.bind, tt.host, res.Listener, tt.want)
		}
	}
}

// TestListenerIsolation: a request is routed only among the routes of the
// most specific listener, even when a less specific listener has a route
// that would match.
func TestListenerIsolation(t *testing.T) {
	tbl := mustBuild(t, []*ir.Listener{
		listener("ns/gw/wild", ":80", "*.example.com"),
		listener("ns/gw/exact", ":80", "a.example.com"),
		listener("ns/gw/empty", ":80", "*.empty.com"),
	}, []*ir.Route{
		route("wild", 0, "ns/gw/wild", nil),
		route("exact", 0, "ns/gw/exact", nil, prefix("/api")),
	})
	tests := []struct{ host, path, want string }{
		{"b.example.com", "/anything", "ns/wild/0"},
		{"a.example.com", "/api/x", "ns/exact/0"},
		{"a.example.com", "/other", ""}, // not ns/wild/0: different listener
		{"x.empty.com", "/", ""},
	}
	for _, tt := range tests {
		if got := matched(tbl, ":80", tt.host, request("GET", tt.path)); got != tt.want {
			t.Errorf("%s%s matched %q, want %q", tt.host, tt.path, got, tt.want)
		}
	}
}

func TestHostnamePrecedence(t *testing.T) {
	l := "ns/gw/l"
	tbl := mustBuild(t, []*ir.Listener{listener(l, ":80", "")}, []*ir.Route{
		route("any", 0, l, nil),
		route("wild", 0, l, []string{"*.example.com"}),
		route("wild-deep", 0, l, []string{"*.b.example.com"}),
		route("exact", 0, l, []string{"a.b.example.com"}, prefix("/only")),
		route("multi", 0, l, []string{"m1.org", "M2.org"}),
	})
	tests := []struct{ host, path, want string }{
		{"a.b.example.com", "/only/x", "ns/exact/0"},
		// The exact bucket has no rule for "/x": the next bucket is tried.
		{"a.b.example.com", "/x", "ns/wild-deep/0"},
		{"c.b.example.com", "/x", "ns/wild-deep/0"},
		{"c.example.com", "/x", "ns/wild/0"},
		{"b.example.com", "/x", "ns/wild/0"},
		{"example.com", "/x", "ns/any/0"}, // "*.example.com" needs a label
		{"other.org", "/", "ns/any/0"},
		{"m1.org", "/", "ns/multi/0"},
		{"m2.org", "/", "ns/multi/0"},
	}
	for _, tt := range tests {
		if got := matched(tbl, ":80", tt.host, request("GET", tt.path)); got != tt.want {
			t.Errorf("%s%s matched %q, want %q", tt.host, tt.path, got, tt.want)
		}
	}
}

func TestPathMatching(t *testing.T) {
	l := "ns/gw/l"
	tbl := mustBuild(t, []*ir.Listener{listener(l, ":80", "")}, []*ir.Route{
		route("root", 0, l, nil, prefix("/")),
		route("foo", 0, l, nil, prefix("/foo")),
		route("foo-slash", 0, l, nil, prefix("/v1/")),
		route("foo-bar", 0, l, nil, prefix("/foo/bar")),
		route("exact", 0, l, nil, exact("/foo/bar")),
		route("exact-slash", 0, l, nil, exact("/e/")),
		route("re", 0, l, nil, regex("/foo/[0-9]+")),
		route("re-partial", 0, l, nil, regex("/r[a-z]")),
	})
	tests := []struct{ path, want, wantPrefix string }{
		{"/foo/bar", "ns/exact/0", ""},            // exact beats every prefix
		{"/foo/bar/", "ns/foo-bar/0", "/foo/bar"}, // not exact any more
		{"/foo/bar/baz", "ns/foo-bar/0", "/foo/bar"},
		{"/foo/barbaz", "ns/foo/0", "/foo"}, // element boundary
		{"/foo", "ns/foo/0", "/foo"},
		{"/foo/", "ns/foo/0", "/foo"},
		{"/foobar", "ns/root/0", "/"},
		{"/foo/123", "ns/foo/0", "/foo"}, // prefixes beat regexes
		{"/v1", "ns/foo-slash/0", "/v1/"},
		{"/v1/x", "ns/foo-slash/0", "/v1/"},
		{"/v1x", "ns/root/0", "/"},
		{"/e/", "ns/exact-slash/0", ""},
		{"/e", "ns/root/0", "/"},
		{"/", "ns/root/0", "/"},
	}
	for _, tt := range tests {
		res := tbl.Match(":80", "h", request("GET", tt.path))
		got := ""
		if res.Route != nil {
			got = res.Route.IR.Name
		}
		if got != tt.want || res.MatchedPrefix != tt.wantPrefix {
			t.Errorf("%s matched %q prefix %q, want %q prefix %q", tt.path, got, res.MatchedPrefix, tt.want, tt.wantPrefix)
		}
	}

	// Regexes match the whole path and come after prefixes.
	reOnly := mustBuild(t, []*ir.Listener{listener(l, ":80", "")}, []*ir.Route{
		route("re", 0, l, nil, regex("/foo/[0-9]+")),
		route("re2", 0, l, nil, regex("/r[a-z]|/alt")),
	})
	for path, want := range map[string]string{
		"/foo/123": "ns/re/0", "/foo/123x": "", "/x/foo/1": "", "/ra": "ns/re2/0", "/rab": "", "/alt": "ns/re2/0",
	} {
		if got := matched(reOnly, ":80", "h", request("GET", path)); got != want {
			t.Errorf("regex table: %s matched %q, want %q", path, got, want)
		}
	}
}

func TestEmptyMatchesMeansPrefixRoot(t *testing.T) {
	l := "ns/gw/l"
	tbl := mustBuild(t, []*ir.Listener{listener(l, ":80", "")}, []*ir.Route{route("r", 0, l, nil)})
	res := tbl.Match(":80", "h", request("POST", "/any/path?x=1"))
	if res.Route == nil || res.MatchedPrefix != "/" {
		t.Errorf("empty matches: got %+v, want a match with prefix /", res)
	}
}

func TestMatchPrecedenceTieBreaks(t *testing.T) {
	l := "ns/gw/l"
	hdr := func(m ir.Match, kv ...string) ir.Match {
		for i := 0; i+1 < len(kv); i += 2 {
			m.Headers = append(m.Headers, ir.ValueMatch{Name: kv[i], Value: kv[i+1]})
		}
		return m
	}
	qry := func(m ir.Match, kv ...string) ir.Match {
		for i := 0; i+1 < len(kv); i += 2 {
			m.QueryParams = append(m.QueryParams, ir.ValueMatch{Name: kv[i], Value: kv[i+1]})
		}
		return m
	}
	withMethod := func(m ir.Match, method string) ir.Match { m.Method = method; return m }
	older := func(r *ir.Route) *ir.Route { r.Created = epoch.Add(-time.Hour); return r }

	tests := []struct {
		name   string
		routes []*ir.Route
		req    []string // method, target, header pairs...
		want   string
	}{
		{"longer prefix beats method", []*ir.Route{
			route("a", 0, l, nil, withMethod(prefix("/"), "GET")),
			route("b", 0, l, nil, prefix("/x")),
		}, []string{"GET", "/x"}, "ns/b/0"},
		{"method beats headers", []*ir.Route{
			route("a", 0, l, nil, hdr(prefix("/"), "x-a", "1", "x-b", "2")),
			route("b", 0, l, nil, withMethod(prefix("/"), "GET")),
		}, []string{"GET", "/", "X-A", "1", "X-B", "2"}, "ns/b/0"},
		{"more headers beats fewer", []*ir.Route{
			route("a", 0, l, nil, hdr(prefix("/"), "x-a", "1")),
			route("b", 0, l, nil, hdr(prefix("/"), "x-a", "1", "x-b", "2")),
		}, []string{"GET", "/", "X-A", "1", "X-B", "2"}, "ns/b/0"},
		{"headers beat query params", []*ir.Route{
			route("a", 0, l, nil, qry(prefix("/"), "q", "1", "r", "2")),
			route("b", 0, l, nil, hdr(prefix("/"), "x-a", "1")),
		}, []string{"GET", "/?q=1&r=2", "X-A", "1"}, "ns/b/0"},
		{"more query params beats fewer", []*ir.Route{
			route("a", 0, l, nil, qry(prefix("/"), "q", "1")),
			route("b", 0, l, nil, qry(prefix("/"), "q", "1", "r", "2")),
		}, []string{"GET", "/?q=1&r=2"}, "ns/b/0"},
		{"duplicate header names count once", []*ir.Route{
			route("a", 0, l, nil, hdr(prefix("/"), "x-a", "1", "X-A", "ignored")),
			route("b", 0, l, nil, hdr(prefix("/"), "x-a", "1", "x-b", "2")),
		}, []string{"GET", "/", "X-A", "1", "X-B", "2"}, "ns/b/0"},
		{"oldest route wins a tie", []*ir.Route{
			route("a", 0, l, nil, prefix("/")),
			older(route("b", 0, l, nil, prefix("/"))),
		}, []string{"GET", "/"}, "ns/b/0"},
		{"alphabetical route name wins", []*ir.Route{
			route("b", 0, l, nil, prefix("/")),
			route("a", 1, l, nil, prefix("/")),
		}, []string{"GET", "/"}, "ns/a/1"},
		{"first rule wins", []*ir.Route{
			route("a", 1, l, nil, prefix("/")),
			route("a", 0, l, nil, prefix("/")),
		}, []string{"GET", "/"}, "ns/a/0"},
		{"falls through to a lower rule whose conditions hold", []*ir.Route{
			route("a", 0, l, nil, withMethod(prefix("/x"), "POST")),
			route("a", 1, l, nil, prefix("/x")),
		}, []string{"GET", "/x/1"}, "ns/a/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := mustBuild(t, []*ir.Listener{listener(l, ":80", "")}, tt.routes)
			if got := matched(tbl, ":80", "h", request(tt.req[0], tt.req[1], tt.req[2:]...)); got != tt.want {
				t.Errorf("matched %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMatchOrderWithinRule(t *testing.T) {
	l := "ns/gw/l"
	r := route("a", 0, l, nil, prefix("/p"), prefix("/p"))
	r.Matches[1].Headers = []ir.ValueMatch{{Name: "x", Value: "1"}}
	tbl := mustBuild(t, []*ir.Listener{listener(l, ":80", "")}, []*ir.Route{r})
	if got := matched(tbl, ":80", "h", request("GET", "/p", "X", "1")); got != "ns/a/0" {
		t.Errorf("matched %q", got)
	}
}

func TestHeaderQueryMethodConditions(t *testing.T) {
	l := "ns/gw/l"
	m := prefix("/")
	m.Method = "PUT"
	m.Headers = []ir.ValueMatch{
		{Name: "x-Version", Value: "v2"},
		{Name: "x-re", Value: "ab+", Regex: true},
	}
	m.QueryParams = []ir.ValueMatch{
		{Name: "Q", Value: "a b"},
		{Name: "n", Value: "[0-9]+", Regex: true},
	}
	tbl := mustBuild(t, []*ir.Listener{listener(l, ":80", "")}, []*ir.Route{route("r", 0, l, nil, m)})
	ok := []string{"X-Version", "v2", "X-Re", "abbb"}
	tests := []struct {
		name string
		req  []string
		want bool
	}{
		{"all hold", append([]string{"PUT", "/?Q=a+b&n=42"}, ok...), true},
		{"escaped query value", append([]string{"PUT", "/?Q=a%20b&n=42"}, ok...), true},
		{"first query value counts", append([]string{"PUT", "/?Q=a+b&n=42&n=x"}, ok...), true},
		{"first query value fails", append([]string{"PUT", "/?Q=a+b&n=x&n=42"}, ok...), false},
		{"query name is case-sensitive", append([]string{"PUT", "/?q=a+b&n=42"}, ok...), false},
		{"wrong method", append([]string{"GET", "/?Q=a+b&n=42"}, ok...), false},
		{"header value differs", []string{"PUT", "/?Q=a+b&n=42", "X-Version", "v1", "X-Re", "ab"}, false},
		{"header regex must match whole value", []string{"PUT", "/?Q=a+b&n=42", "X-Version", "v2", "X-Re", "xabx"}, false},
		{"header missing", []string{"PUT", "/?Q=a+b&n=42", "X-Version", "v2"}, false},
		{"repeated header matched joined", []string{"PUT", "/?Q=a+b&n=42", "X-Version", "v2", "X-Re", "ab", "X-Re", "ab"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := matched(tbl, ":80", "h", request(tt.req[0], tt.req[1], tt.req[2:]...)) != ""
			if got != tt.want {
				t.Errorf("matched = %v, want %v", got, tt.want)
			}
		})
	}

	// Non-canonical header keys (hand-built or HTTP/2 requests) still match.
	r := request("PUT", "/?Q=a+b&n=1")
	r.Header["x-version"] = []string{"v2"}
	r.Header["x-re"] = []string{"ab"}
	if matched(tbl, ":80", "h", r) == "" {
		t.Error("non-canonical header keys did not match")
	}

	// Repeated header joined with ",": a regex over the joined value matches.
	m2 := prefix("/")
	m2.Headers = []ir.ValueMatch{{Name: "x-multi", Value: "a,b"}}
	tbl2 := mustBuild(t, []*ir.Listener{listener(l, ":80", "")}, []*ir.Route{route("r", 0, l, nil, m2)})
	if matched(tbl2, ":80", "h", request("GET", "/", "X-Multi", "a", "X-Multi", "b")) == "" {
		t.Error("repeated header was not matched as its joined value")
	}
}

func TestFirstQueryValue(t *testing.T) {
	tests := []struct {
		raw, name, want string
		ok              bool
	}{
		{"a=1&b=2", "b", "2", true},
		{"a=1&a=2", "a", "1", true},
		{"a", "a", "", true},
		{"a=", "a", "", true},
		{"x%41=1", "xA", "1", true},
		{"a=%zz&a=2", "a", "2", true}, // undecodable values are skipped
		{"", "a", "", false},
		{"ab=1", "a", "", false},
	}
	for _, tt := range tests {
		got, ok := firstQueryValue(tt.raw, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("firstQueryValue(%q, %q) = %q, %v; want %q, %v", tt.raw, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
