package listener

import (
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct {
		in, merged, kept string // "!" marks an error
	}{
		{"/", "/", "/"},
		{"", "", ""},
		{"*", "*", "*"},
		{"/a/b", "/a/b", "/a/b"},
		{"/a/./b", "/a/b", "/a/b"},
		{"/a/b/..", "/a/", "/a/"},
		{"/a/b/.", "/a/b/", "/a/b/"},
		{"/a/../../b", "!", "!"},
		{"/..", "!", "!"},
		{"//a//b/", "/a/b/", "//a//b/"},
		{"/a//../b", "/b", "/a/b"},
		{"/a/..b/.c", "/a/..b/.c", "/a/..b/.c"},
		{"/a/...", "/a/...", "/a/..."},
	} {
		for _, c := range []struct {
			merge bool
			want  string
		}{{true, tc.merged}, {false, tc.kept}} {
			got, err := NormalizePath(tc.in, c.merge)
			if c.want == "!" {
				if err == nil {
					t.Errorf("NormalizePath(%q, %v) = %q, want an error", tc.in, c.merge, got)
				}
				continue
			}
			if err != nil || got != c.want {
				t.Errorf("NormalizePath(%q, %v) = %q, %v; want %q", tc.in, c.merge, got, err, c.want)
			}
		}
	}
}

// FuzzNormalizePath checks the invariants: no dot segments and (merged) no
// empty segments remain, the result is a fixed point, and a path that needs
// nothing is returned unchanged.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/./b/../c", "//x//", "/..", "/a/b/..", "/%2e/", "/a/...", "*"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, p string, merge bool) {
		got, err := NormalizePath(p, merge)
		if err != nil {
			if !strings.Contains(p, "..") {
				t.Fatalf("%q: error without a \"..\": %v", p, err)
			}
			return
		}
		if !strings.HasPrefix(p, "/") {
			if got != p {
				t.Fatalf("non-absolute %q changed to %q", p, got)
			}
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("%q -> %q: not absolute", p, got)
		}
		for i, seg := range strings.Split(got[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q -> %q: segment %d is %q", p, got, i, seg)
			}
		}
		if merge && strings.Contains(got, "//") {
			t.Fatalf("%q -> %q: \"//\" left", p, got)
		}
		again, err := NormalizePath(got, merge)
		if err != nil || again != got {
			t.Fatalf("%q -> %q -> %q, %v: not a fixed point", p, got, again, err)
		}
	})
}

func TestHasEscapedSlash(t *testing.T) {
	for in, want := range map[string]bool{"/a%2Fb": true, "/a%2fb": true, "/a%5cb": true, "/a%25b": false, "/a%2": false, "/%": false} {
		if got := hasEscapedSlash(in); got != want {
			t.Errorf("hasEscapedSlash(%q) = %v", in, got)
		}
	}
}
