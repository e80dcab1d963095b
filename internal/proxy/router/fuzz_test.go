package router

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// FuzzMatch feeds arbitrary hosts, paths, headers and queries to a table
// with every kind of match. Match must never panic, and what it returns
// must be consistent with the request.
func FuzzMatch(f *testing.F) {
	l := "ns/gw/l"
	hm := prefix("/h")
	hm.Headers = []ir.ValueMatch{{Name: "x-v", Value: "v[0-9]", Regex: true}, {Name: "X-Exact", Value: "1"}}
	hm.QueryParams = []ir.ValueMatch{{Name: "q", Value: "a.*", Regex: true}}
	hm.Method = "POST"
	tbl := mustBuild(f, []*ir.Listener{
		listener(l, ":80", ""),
		listener("ns/gw/w", ":80", "*.wild.io"),
	}, []*ir.Route{
		route("root", 0, l, nil, prefix("/")),
		route("hosts", 0, l, []string{"a.example.com", "*.example.com"}, prefix("/a/"), exact("/e")),
		route("re", 0, l, nil, regex("/r/[a-z]+/?")),
		route("hdr", 0, l, []string{"h.example.com"}, hm),
		route("wild", 0, "ns/gw/w", nil, prefix("/w")),
	})
	f.Add("a.example.com", "/a/b", "x-v", "v1", "q=abc", "GET")
	f.Add("h.example.com", "/h/x", "X-Exact", "1", "q=a%zz&q=ab", "POST")
	f.Add("x.wild.io", "/w//", "", "", "", "GET")
	f.Add(".", "", "\x00", "", "&&=&", "")
	f.Fuzz(func(t *testing.T, host, path, hname, hvalue, query, method string) {
		r := &http.Request{
			Method: method,
			URL:    &url.URL{Path: path, RawQuery: query},
			Header: http.Header{hname: {hvalue}},
		}
		res := tbl.Match(":80", host, r)
		if res.Route != nil && res.Listener == nil {
			t.Fatal("route without listener")
		}
		if res.MatchedPrefix != "" {
			p := strings.TrimSuffix(res.MatchedPrefix, "/")
			if path != p && !strings.HasPrefix(path, p+"/") && !(path == "" && p == "") {
				t.Fatalf("prefix %q reported for path %q", res.MatchedPrefix, path)
			}
		}
		if l := tbl.Listener(":80", host); l != res.Listener {
			t.Fatalf("Match listener %v != Listener() %v", res.Listener, l)
		}
	})
}
