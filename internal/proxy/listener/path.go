package listener

import (
	"errors"
	"strings"
)

// EscapedSlashes says what to do with a request path that contains an
// encoded slash or backslash (%2F, %5C).
type EscapedSlashes string

// EscapedSlashes values.
const (
	// EscapedSlashesKeep routes on the decoded path and forwards the path as
	// the client encoded it (the default).
	EscapedSlashesKeep EscapedSlashes = "keep"
	// EscapedSlashesReject answers 400.
	EscapedSlashesReject EscapedSlashes = "reject"
	// EscapedSlashesUnescape decodes them, then normalizes and forwards the
	// decoded path, so the route matched and the upstream see the same path.
	EscapedSlashesUnescape EscapedSlashes = "unescape"
)

// errAboveRoot is returned for a path whose ".." segments climb above "/".
var errAboveRoot = errors.New("the path climbs above the root with \"..\"")

// NormalizePath removes "." and ".." segments from an absolute path (RFC
// 3986 section 5.2.4) and, when mergeSlashes is set, collapses runs of "/"
// into one. A trailing "/" is kept (so "/a/b/.." is "/a/"). A path that
// climbs above the root ("/../x") is an error rather than being clamped: no
// well-behaved client sends one, and silently serving "/x" would hide an
// attack. It returns p itself when nothing changes, so the common case does
// not allocate.
func NormalizePath(p string, mergeSlashes bool) (string, error) {
	if !needsNormalizing(p, mergeSlashes) {
		return p, nil
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch {
		case s == ".":
			if last {
				out = append(out, "")
			}
		case s == "..":
			// Pop the previous segment. Empty segments (from "//") are real
			// segments unless slashes are merged.
			if len(out) == 0 {
				return "", errAboveRoot
			}
			out = out[:len(out)-1]
			if last {
				out = append(out, "")
			}
		case s == "" && mergeSlashes && !last:
			// "a//b": drop the empty segment.
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), nil
}

// needsNormalizing is the allocation-free test for the fast path: a "." or
// ".." segment, or "//" when slashes are merged.
func needsNormalizing(p string, mergeSlashes bool) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		rest := p[i+1:]
		if mergeSlashes && strings.HasPrefix(rest, "/") {
			return true
		}
		if rest == "." || rest == ".." || strings.HasPrefix(rest, "./") || strings.HasPrefix(rest, "../") {
			return true
		}
	}
	return false
}

// hasEscapedSlash reports whether a raw (still encoded) path holds %2F or
// %5C in either case.
func hasEscapedSlash(raw string) bool {
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		switch raw[i+1 : i+3] {
		case "2F", "2f", "5C", "5c":
			return true
		}
	}
	return false
}
