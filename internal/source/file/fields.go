package file

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// fieldIssue is one problem at one field path inside an object.
type fieldIssue struct {
	field   string
	message string
}

// maxFieldIssues caps the issues reported per object, so a document written
// for the wrong kind does not flood the output.
const maxFieldIssues = 20

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	structFieldsCache   sync.Map // reflect.Type -> map[string]reflect.Type
)

// checkFields walks a generic JSON value (as decoded with UseNumber) against
// the Go type it will be decoded into and reports unknown fields and JSON
// type mismatches with full paths (spec.listeners[0].port). encoding/json
// reports unknown fields without a path and matches names
// case-insensitively; the apiserver does neither, so we check first.
// Types with their own JSON decoding (Quantity, Time, IntOrString) are left
// to encoding/json.
func checkFields(t reflect.Type, v any, path string, out *[]fieldIssue) {
	if len(*out) >= maxFieldIssues || v == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) || t.Implements(jsonUnmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		checkStruct(t, v, path, out)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			addMismatch(out, path, "an object", v)
			return
		}
		for _, k := range sortedKeys(m) {
			checkFields(t.Elem(), m[k], joinKey(path, k), out)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			expectType[string](out, path, "a base64 string", v)
			return
		}
		list, ok := v.([]any)
		if !ok {
			addMismatch(out, path, "a list", v)
			return
		}
		for i, e := range list {
			checkFields(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.String:
		if reflect.PointerTo(t).Implements(textUnmarshalerType) {
			return
		}
		expectType[string](out, path, "a string", v)
	case reflect.Bool:
		expectType[bool](out, path, "true or false", v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		checkInt(out, path, v, t.Bits(), true)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		checkInt(out, path, v, t.Bits(), false)
	case reflect.Float32, reflect.Float64:
		expectType[json.Number](out, path, "a number", v)
	}
}

// checkStruct reports keys that are not JSON fields of t and recurses.
func checkStruct(t reflect.Type, v any, path string, out *[]fieldIssue) {
	m, ok := v.(map[string]any)
	if !ok {
		addMismatch(out, path, "an object", v)
		return
	}
	fields := structFields(t)
	for _, k := range sortedKeys(m) {
		ft, known := fields[k]
		if !known {
			*out = append(*out, fieldIssue{field: joinKey(path, k), message: unknownFieldMessage(k, fields)})
			continue
		}
		checkFields(ft, m[k], joinKey(path, k), out)
	}
}

// unknownFieldMessage says the field is unknown and suggests the known field
// that differs only in case, if any.
func unknownFieldMessage(k string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, k) {
			return fmt.Sprintf("unknown field %q: field names are case-sensitive, did you mean %q?", k, name)
		}
	}
	known := slices.Sorted(maps.Keys(fields))
	return fmt.Sprintf("unknown field %q: remove it or fix its spelling (known fields here: %s)", k, strings.Join(known, ", "))
}

// structFields returns the JSON field names of t with their types, with
// embedded structs without a JSON name (TypeMeta, CommonRouteSpec) flattened
// as encoding/json does.
func structFields(t reflect.Type) map[string]reflect.Type {
	if cached, ok := structFieldsCache.Load(t); ok {
		return cached.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	var embedded []reflect.Type
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fields[name] = sf.Type
	}
	// Fields of the outer struct take precedence over promoted ones.
	for _, et := range embedded {
		for name, ft := range structFields(et) {
			if _, ok := fields[name]; !ok {
				fields[name] = ft
			}
		}
	}
	structFieldsCache.Store(t, fields)
	return fields
}

// checkInt checks that v is a whole number that fits the integer type.
func checkInt(out *[]fieldIssue, path string, v any, bits int, signed bool) {
	n, ok := v.(json.Number)
	if !ok {
		addMismatch(out, path, "an integer", v)
		return
	}
	var err error
	if signed {
		_, err = strconv.ParseInt(string(n), 10, bits)
	} else {
		_, err = strconv.ParseUint(string(n), 10, bits)
	}
	if err == nil {
		return
	}
	if errors.Is(err, strconv.ErrRange) {
		*out = append(*out, fieldIssue{field: path, message: fmt.Sprintf("%s is out of range for a %d-bit integer", n, bits)})
		return
	}
	*out = append(*out, fieldIssue{field: path, message: fmt.Sprintf("expected a whole number, got %s", n)})
}

// expectType reports a mismatch unless v has Go type T.
func expectType[T any](out *[]fieldIssue, path, want string, v any) {
	if _, ok := v.(T); !ok {
		addMismatch(out, path, want, v)
	}
}

func addMismatch(out *[]fieldIssue, path, want string, v any) {
	msg := fmt.Sprintf("expected %s, got %s", want, describeJSON(v))
	if want == "a string" {
		msg += ` (quote the value, e.g. "80" or "true")`
	}
	*out = append(*out, fieldIssue{field: path, message: msg})
}

// describeJSON names the JSON type of a generic value for messages.
func describeJSON(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + string(v)
	case bool:
		return "the boolean " + strconv.FormatBool(v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

var simpleKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinKey appends key k to a field path: a.b for simple keys, a["x.y/z"] for
// map keys such as label names.
func joinKey(path, k string) string {
	if !simpleKey.MatchString(k) {
		return path + "[" + strconv.Quote(k) + "]"
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}
