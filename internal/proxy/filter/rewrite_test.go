package filter

import (
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// TestReplacePrefix is the table from the Gateway API HTTPPathModifier
// documentation plus the edge cases the router can produce.
func TestReplacePrefix(t *testing.T) {
	tests := []struct{ path, prefix, repl, want string }{
		{"/foo/bar", "/foo", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo", "/xyz/", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz/", "/xyz/bar"},
		{"/foo", "/foo", "/xyz", "/xyz"},
		{"/foo/", "/foo", "/xyz", "/xyz/"},
		{"/foo/bar", "/foo", "", "/bar"},
		{"/foo/", "/foo", "", "/"},
		{"/foo", "/foo", "", "/"},
		{"/foo/", "/foo", "/", "/"},
		{"/foo", "/foo", "/", "/"},
		{"/foo/x", "/foo", "/bar", "/bar/x"},
		{"/foo/x", "/foo", "/", "/x"},
		{"/anything", "/", "/api", "/api/anything"},
		{"/", "/", "/api", "/api/"},
		{"/a/b/c", "/a/b", "/z", "/z/c"},
		// Not an element-boundary match: unchanged.
		{"/foobar", "/foo", "/x", "/foobar"},
		// No prefix matched (exact or regex rule): the path is replaced.
		{"/whatever", "", "/x", "/x"},
		{"/whatever", "", "", "/"},
		{"/foo/bar", "/foo", "xyz", "/xyz/bar"},
	}
	for _, tt := range tests {
		if got := ReplacePrefix(tt.path, tt.prefix, tt.repl); got != tt.want {
			t.Errorf("ReplacePrefix(%q, %q, %q) = %q, want %q", tt.path, tt.prefix, tt.repl, got, tt.want)
		}
	}
}

func TestURLRewrite(t *testing.T) {
	tests := []struct {
		name     string
		rw       ir.Rewrite
		target   string
		prefix   string
		wantHost string
		wantURI  string
	}{
		{"hostname only", ir.Rewrite{Hostname: "backend.internal"}, "http://front.example/a?q=1", "", "backend.internal", "/a?q=1"},
		{"full path keeps query", ir.Rewrite{Path: &ir.PathModifier{Type: ir.ReplaceFullPath, Value: "/new"}}, "http://h/old/x?q=1", "", "h", "/new?q=1"},
		{"prefix", ir.Rewrite{Path: &ir.PathModifier{Type: ir.ReplacePrefixMatch, Value: "/bar"}}, "http://h/foo/x", "/foo", "h", "/bar/x"},
		{"prefix to root", ir.Rewrite{Path: &ir.PathModifier{Type: ir.ReplacePrefixMatch, Value: "/"}}, "http://h/foo/x", "/foo", "h", "/x"},
		{"both", ir.Rewrite{Hostname: "b", Path: &ir.PathModifier{Type: ir.ReplaceFullPath, Value: "/p"}}, "http://a/x", "", "b", "/p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile([]ir.Filter{{Type: ir.FilterRewrite, Rewrite: &tt.rw}})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", tt.target, nil)
			if c.Request(httptest.NewRecorder(), r, MatchInfo{MatchedPrefix: tt.prefix}) {
				t.Fatal("rewrite answered the request")
			}
			if r.Host != tt.wantHost {
				t.Errorf("Host = %q, want %q", r.Host, tt.wantHost)
			}
			if got := r.URL.RequestURI(); got != tt.wantURI {
				t.Errorf("RequestURI = %q, want %q", got, tt.wantURI)
			}
		})
	}
}

func TestRewriteNeedsAField(t *testing.T) {
	if _, err := Compile([]ir.Filter{{Type: ir.FilterRewrite, Rewrite: &ir.Rewrite{}}}); err == nil {
		t.Error("empty URLRewrite compiled")
	}
}

func FuzzReplacePrefix(f *testing.F) {
	f.Add("/foo/bar", "/foo", "/xyz")
	f.Add("/foo", "/foo/", "")
	f.Add("//", "/", "//")
	f.Add("", "", "")
	f.Add("/a%2f", "/a", "b/")
	f.Fuzz(func(t *testing.T, path, prefix, repl string) {
		got := ReplacePrefix(path, prefix, repl)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("ReplacePrefix(%q, %q, %q) = %q, does not start with /", path, prefix, repl, got)
		}
		// When the prefix matches on an element boundary, the part of the path
		// after it is preserved.
		p := strings.TrimSuffix(prefix, "/")
		if prefix != "" && strings.HasPrefix(path, p+"/") {
			rest := path[len(p):]
			if !strings.HasSuffix(got, rest) {
				t.Fatalf("ReplacePrefix(%q, %q, %q) = %q lost the remainder %q", path, prefix, repl, got, rest)
			}
		}
	})
}
