package cel

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// The map views below implement traits.Mapper over Go data in place. Lookups
// (the hot path) touch only the Go map; the rarely used operations (equality,
// conversion, iteration by iterator) materialise a regular CEL map and delegate.

// headerView is a CEL map(string, string) over an http.Header.
type headerView struct{ h http.Header }

var (
	_ traits.Mapper   = headerView{}
	_ traits.Foldable = headerView{}
)

// lookupHeader finds key case-insensitively, canonicalising it the way net/http
// stores keys, without allocating for keys up to 128 bytes.
func lookupHeader(h http.Header, key string) []string {
	if len(key) > 128 {
		return h[http.CanonicalHeaderKey(key)]
	}
	var buf [128]byte
	b := buf[:len(key)]
	upper := true
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			// Not a token: net/http leaves such keys as they are.
			return h[key]
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	return h[string(b)]
}

// headerValue is the CEL value of one header: the single value aliased in
// place, or all field lines joined with ",".
func headerValue(vs []string) ref.Val {
	if len(vs) == 1 {
		return aliasString(&vs[0])
	}
	return types.String(strings.Join(vs, ","))
}

// commonHeaderNames maps canonical names to interned lower-case CEL strings so
// iterating a header map does not allocate for the usual headers.
var commonHeaderNames = func() map[string]ref.Val {
	names := []string{
		"accept", "accept-encoding", "accept-language", "authorization", "cache-control",
		"connection", "content-length", "content-type", "cookie", "host", "origin",
		"referer", "te", "traceparent", "tracestate", "user-agent", "upgrade",
		"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id",
		"x-real-ip", "x-api-key", "x-b3-traceid", "x-b3-spanid", "x-envoy-original-path",
		"if-none-match", "if-modified-since", "pragma", "sec-fetch-mode", "sec-fetch-site",
		"sec-fetch-dest", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "dnt",
		"content-encoding", "transfer-encoding", "location", "server", "date", "etag",
		"set-cookie", "vary", "last-modified", "expires", "keep-alive", "grpc-timeout",
		"grpc-encoding", "grpc-status", "grpc-message", "openai-organization", "anthropic-version",
	}
	m := make(map[string]ref.Val, len(names))
	for _, n := range names {
		m[http.CanonicalHeaderKey(n)] = types.String(n)
	}
	return m
}()

func lowerHeaderName(canonical string) ref.Val {
	if v, ok := commonHeaderNames[canonical]; ok {
		return v
	}
	return types.String(strings.ToLower(canonical))
}

// Find implements traits.Mapper.
func (v headerView) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	vs := lookupHeader(v.h, string(k))
	if len(vs) == 0 {
		return nil, false
	}
	return headerValue(vs), true
}

// Fold implements traits.Foldable: comprehensions over headers iterate the
// Go map directly, yielding lower-case names.
func (v headerView) Fold(f traits.Folder) {
	for k, vs := range v.h {
		if len(vs) == 0 {
			continue
		}
		if !f.FoldEntry(lowerHeaderName(k), headerValue(vs)) {
			return
		}
	}
}

func (v headerView) materialize() traits.Mapper {
	m := make(map[string]string, len(v.h))
	for k, vs := range v.h {
		if len(vs) > 0 {
			m[strings.ToLower(k)] = strings.Join(vs, ",")
		}
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, m)
}

func (v headerView) Get(key ref.Val) ref.Val          { return getOrMissing(v, key) }
func (v headerView) Contains(key ref.Val) ref.Val     { return containsKey(v, key) }
func (v headerView) Size() ref.Val                    { return types.Int(len(v.h)) }
func (v headerView) Iterator() traits.Iterator        { return v.materialize().Iterator() }
func (v headerView) Type() ref.Type                   { return types.MapType }
func (v headerView) Value() any                       { return v.h }
func (v headerView) Equal(o ref.Val) ref.Val          { return v.materialize().Equal(o) }
func (v headerView) ConvertToType(t ref.Type) ref.Val { return v.materialize().ConvertToType(t) }
func (v headerView) ConvertToNative(t reflect.Type) (any, error) {
	return v.materialize().ConvertToNative(t)
}

// anyMap is a CEL map(string, dyn) over decoded JSON or JWT claims.
type anyMap struct{ m map[string]any }

var (
	_ traits.Mapper   = anyMap{}
	_ traits.Foldable = anyMap{}
)

// Find implements traits.Mapper.
func (v anyMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	x, ok := v.m[string(k)]
	if !ok {
		return nil, false
	}
	return nativeToVal(x), true
}

// Fold implements traits.Foldable.
func (v anyMap) Fold(f traits.Folder) {
	for k, x := range v.m {
		if !f.FoldEntry(types.String(k), nativeToVal(x)) {
			return
		}
	}
}

func (v anyMap) materialize() traits.Mapper {
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, v.m)
}

func (v anyMap) Get(key ref.Val) ref.Val          { return getOrMissing(v, key) }
func (v anyMap) Contains(key ref.Val) ref.Val     { return containsKey(v, key) }
func (v anyMap) Size() ref.Val                    { return types.Int(len(v.m)) }
func (v anyMap) Iterator() traits.Iterator        { return v.materialize().Iterator() }
func (v anyMap) Type() ref.Type                   { return types.MapType }
func (v anyMap) Value() any                       { return v.m }
func (v anyMap) Equal(o ref.Val) ref.Val          { return v.materialize().Equal(o) }
func (v anyMap) ConvertToType(t ref.Type) ref.Val { return v.materialize().ConvertToType(t) }
func (v anyMap) ConvertToNative(t reflect.Type) (any, error) {
	return v.materialize().ConvertToNative(t)
}

// queryView is a CEL map(string, string) over a request's raw query: the first
// value of each parameter.
type queryView struct{ r *http.Request }

var _ traits.Mapper = queryView{}

// Find scans the raw query for key instead of parsing it into a url.Values.
func (v queryView) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	raw := v.r.URL.RawQuery
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(name, "%+") {
			unescaped, err := url.QueryUnescape(name)
			if err != nil {
				continue
			}
			name = unescaped
		}
		if name != string(k) {
			continue
		}
		if strings.ContainsAny(value, "%+") {
			unescaped, err := url.QueryUnescape(value)
			if err != nil {
				continue
			}
			value = unescaped
		}
		return types.String(value), true
	}
	return nil, false
}

func (v queryView) materialize() traits.Mapper {
	q, _ := url.ParseQuery(v.r.URL.RawQuery)
	m := make(map[string]string, len(q))
	for k, vs := range q {
		m[k] = vs[0]
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, m)
}

func (v queryView) Get(key ref.Val) ref.Val          { return getOrMissing(v, key) }
func (v queryView) Contains(key ref.Val) ref.Val     { return containsKey(v, key) }
func (v queryView) Size() ref.Val                    { return v.materialize().Size() }
func (v queryView) Iterator() traits.Iterator        { return v.materialize().Iterator() }
func (v queryView) Type() ref.Type                   { return types.MapType }
func (v queryView) Value() any                       { return v.r.URL.RawQuery }
func (v queryView) Equal(o ref.Val) ref.Val          { return v.materialize().Equal(o) }
func (v queryView) ConvertToType(t ref.Type) ref.Val { return v.materialize().ConvertToType(t) }
func (v queryView) ConvertToNative(t reflect.Type) (any, error) {
	return v.materialize().ConvertToNative(t)
}

type finder interface {
	Find(ref.Val) (ref.Val, bool)
}

func getOrMissing(m finder, key ref.Val) ref.Val {
	v, found := m.Find(key)
	if found {
		return v
	}
	if v != nil { // an error for a key of the wrong type
		return v
	}
	return types.NewErr("no such key: %v", key)
}

func containsKey(m finder, key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found && v != nil {
		return v
	}
	return types.Bool(found)
}
