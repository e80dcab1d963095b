package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/internal/source"
)

// Decode parses one file's content (YAML, or JSON when path ends in .json)
// into typed, defaulted objects. Objects with a Problem are left out. It
// does no I/O: creationTimestamp is left for the caller (Source sets the
// file's modification time). Exported for `gatehouse translate`, fuzzing and
// tests.
func Decode(path string, data []byte) ([]source.Object, []source.Problem) {
	res := decodeFile(path, data)
	objs := make([]source.Object, 0, len(res.objects))
	for _, d := range res.objects {
		objs = append(objs, d.obj)
	}
	return objs, res.problems
}

// objectKey identifies an object across files and reloads.
type objectKey struct {
	kind, namespace, name string
}

// String is "Kind namespace/name", or "Kind name" for cluster-scoped kinds.
func (k objectKey) String() string {
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

func (k objectKey) compare(o objectKey) int {
	if c := strings.Compare(k.kind, o.kind); c != 0 {
		return c
	}
	if c := strings.Compare(k.namespace, o.namespace); c != 0 {
		return c
	}
	return strings.Compare(k.name, o.name)
}

// decodedObject is one accepted object and what the file said about the
// fields Source fills in.
type decodedObject struct {
	key            objectKey
	obj            source.Object
	doc            int
	userGeneration bool // metadata.generation was set in the file
	userTimestamp  bool // metadata.creationTimestamp was set in the file
}

// rejectedObject is an object that was identified but has a Problem: its
// previous version stays in force.
type rejectedObject struct {
	key objectKey
	doc int
}

// decodeResult is everything one file contributes.
type decodeResult struct {
	objects  []decodedObject
	rejected []rejectedObject
	problems []source.Problem
	// broken is set when a document could not be tied to an object (syntax
	// error, no kind or name, unknown kind): the file keeps everything it
	// contributed before.
	broken bool
}

// decoder carries the position within a file while decoding it.
type decoder struct {
	path string
	doc  int // 1-based index of the current document
	res  decodeResult
}

// maxFileSize bounds what one config file may hold, so a stray log file
// named .yaml cannot stall a reload.
const maxFileSize = 8 << 20

func decodeFile(path string, data []byte) decodeResult {
	d := &decoder{path: path}
	if len(data) > maxFileSize {
		d.doc = 1
		d.brokenProblem("", "", fmt.Sprintf("file is %d bytes, more than the %d allowed; split it into smaller files", len(data), maxFileSize))
		return d.res
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		d.decodeJSONStream(data)
	} else {
		d.decodeYAMLStream(data)
	}
	return d.res
}

// decodeYAMLStream decodes each "---"-separated document. Documents holding
// only comments or whitespace are skipped and not counted.
func (d *decoder) decodeYAMLStream(data []byte) {
	for _, chunk := range splitYAML(data) {
		j, err := yaml.YAMLToJSONStrict(chunk.text)
		if err != nil {
			d.doc++
			d.syntaxProblem(yamlErrorMessage(err, chunk.line))
			continue
		}
		v, err := decodeGeneric(j)
		if err != nil {
			d.doc++
			d.syntaxProblem(fmt.Sprintf("invalid YAML in document starting at line %d: %v", chunk.line, err))
			continue
		}
		if v == nil {
			continue
		}
		d.doc++
		d.decodeDocument(v)
	}
}

// decodeJSONStream decodes one or more concatenated JSON values.
func (d *decoder) decodeJSONStream(data []byte) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			d.doc++
			offset := dec.InputOffset()
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				offset = syn.Offset
			}
			d.syntaxProblem(fmt.Sprintf("invalid JSON at line %d: %v; fix the syntax", lineAt(data, offset), err))
			return
		}
		if v == nil {
			continue
		}
		d.doc++
		d.decodeDocument(v)
	}
}

// decodeGeneric decodes JSON into maps, slices and json.Numbers.
func decodeGeneric(j []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeDocument handles one document: a List of objects or one object.
func (d *decoder) decodeDocument(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		d.brokenProblem("", "", fmt.Sprintf("the document is %s, not an object; each document must be one object with apiVersion, kind and metadata", describeJSON(v)))
		return
	}
	if m["kind"] != "List" {
		d.decodeObject(m, "")
		return
	}
	if m["apiVersion"] != "v1" {
		d.brokenProblem("", "apiVersion", "a List must have apiVersion: v1")
		return
	}
	for _, k := range sortedKeys(m) {
		if k != "apiVersion" && k != "kind" && k != "metadata" && k != "items" {
			d.brokenProblem("", k, fmt.Sprintf("unknown field %q in List: a List has only apiVersion, kind, metadata and items", k))
			return
		}
	}
	items, ok := m["items"].([]any)
	if !ok && m["items"] != nil {
		d.brokenProblem("", "items", "items must be a list of objects")
		return
	}
	for i, item := range items {
		d.decodeObject(item, fmt.Sprintf("items[%d]", i))
	}
}

// decodeObject decodes, defaults and validates one object found at field
// path prefix ("" for a whole document, "items[3]" within a List).
func (d *decoder) decodeObject(v any, prefix string) {
	m, ok := v.(map[string]any)
	if !ok {
		d.brokenProblem("", prefix, fmt.Sprintf("expected an object, got %s", describeJSON(v)))
		return
	}
	info, key, ok := d.identify(m, prefix)
	if !ok {
		return
	}
	obj := info.newObject()
	issues := d.decodeTyped(m, obj, info)
	if len(issues) == 0 {
		d.applyDefaults(obj, info, key)
		if info.validate != nil {
			issues = info.validate(obj)
		}
		issues = append(validateMeta(info, key), issues...)
	}
	if len(issues) > 0 {
		for _, is := range issues {
			d.problem(key.String(), joinField(prefix, is.field), is.message)
		}
		d.res.rejected = append(d.res.rejected, rejectedObject{key: key, doc: d.doc})
		return
	}
	meta, _ := m["metadata"].(map[string]any)
	_, userGen := meta["generation"]
	_, userTS := meta["creationTimestamp"]
	d.res.objects = append(d.res.objects, decodedObject{key: key, obj: obj, doc: d.doc, userGeneration: userGen, userTimestamp: userTS})
}

// identify reads kind, apiVersion and metadata name/namespace. It reports
// false (with a Problem) when the object cannot be decoded; the key is
// still returned rejected when the object could be identified.
func (d *decoder) identify(m map[string]any, prefix string) (*kindInfo, objectKey, bool) {
	kind, _ := m["kind"].(string)
	if kind == "" {
		d.brokenProblem("", joinField(prefix, "kind"), "missing kind: add e.g. `kind: HTTPRoute` (supported kinds: "+supportedKinds()+")")
		return nil, objectKey{}, false
	}
	info, ok := kinds[kind]
	if !ok {
		d.brokenProblem("", joinField(prefix, "kind"), fmt.Sprintf("unsupported kind %q; supported kinds: %s", kind, supportedKinds()))
		return nil, objectKey{}, false
	}
	meta, _ := m["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)
	if !info.namespaced {
		namespace = ""
	} else if namespace == "" {
		namespace = "default"
	}
	key := objectKey{kind: kind, namespace: namespace, name: name}
	if name == "" {
		d.brokenProblem(kind, joinField(prefix, "metadata.name"), "missing metadata.name: every object needs a name")
		return nil, key, false
	}
	apiVersion, _ := m["apiVersion"].(string)
	if !slices.Contains(info.apiVersions, apiVersion) {
		msg := fmt.Sprintf("apiVersion %q is not supported for %s; use %s", apiVersion, kind, strings.Join(info.apiVersions, " or "))
		if apiVersion == "" {
			msg = fmt.Sprintf("missing apiVersion: add `apiVersion: %s`", info.apiVersions[0])
		}
		d.problem(key.String(), joinField(prefix, "apiVersion"), msg)
		d.res.rejected = append(d.res.rejected, rejectedObject{key: key, doc: d.doc})
		return nil, key, false
	}
	return info, key, true
}

// decodeTyped checks field names and types, then decodes m into obj.
func (d *decoder) decodeTyped(m map[string]any, obj source.Object, info *kindInfo) []fieldIssue {
	var issues []fieldIssue
	checkFields(reflect.TypeOf(obj), m, "", &issues)
	if len(issues) > 0 {
		return issues
	}
	raw, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(raw, obj)
	}
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return []fieldIssue{{field: te.Field, message: fmt.Sprintf("cannot use %s here: expected %s", te.Value, te.Type)}}
		}
		return []fieldIssue{{message: fmt.Sprintf("invalid %s: %v", info.kind, err)}}
	}
	return nil
}

// applyDefaults sets TypeMeta, namespace, generation and the kind's
// defaults.
func (d *decoder) applyDefaults(obj source.Object, info *kindInfo, key objectKey) {
	obj.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(info.apiVersions[0], info.kind))
	obj.SetNamespace(key.namespace)
	if obj.GetGeneration() == 0 {
		obj.SetGeneration(1)
	}
	if info.setDefaults != nil {
		info.setDefaults(obj)
	}
}

func (d *decoder) problem(object, field, msg string) {
	d.res.problems = append(d.res.problems, source.Problem{File: d.path, Document: d.doc, Object: object, Field: field, Message: msg})
}

// brokenProblem records a Problem for a document whose object cannot be
// identified, which makes the whole file keep its previous objects.
func (d *decoder) brokenProblem(object, field, msg string) {
	d.res.broken = true
	d.problem(object, field, msg)
}

func (d *decoder) syntaxProblem(msg string) {
	d.brokenProblem("", "", msg+" (until this is fixed, the objects this file defined before stay in force)")
}

// splitChunk is one YAML document and the file line it starts on.
type splitChunk struct {
	text []byte
	line int
}

// splitYAML splits a YAML stream on "---" separator lines, recording where
// each document starts so parser line numbers can be made file-relative.
func splitYAML(data []byte) []splitChunk {
	var chunks []splitChunk
	start, startLine, line := 0, 1, 1
	for pos := 0; pos <= len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data) + 1
		if end >= 0 {
			end += pos
			next = end + 1
		} else {
			end = len(data)
		}
		if isDocSeparator(data[pos:end]) {
			chunks = append(chunks, splitChunk{text: data[start:pos], line: startLine})
			start, startLine = min(next, len(data)), line+1
		}
		pos = next
		line++
	}
	return append(chunks, splitChunk{text: data[start:], line: startLine})
}

// isDocSeparator reports whether a line is "---", optionally followed by
// whitespace or a comment.
func isDocSeparator(line []byte) bool {
	line = bytes.TrimRight(line, "\r")
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t'
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlErrorMessage rewrites a parser error so its line numbers count from
// the start of the file rather than the start of the document.
func yamlErrorMessage(err error, docLine int) string {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.ReplaceAll(msg, "\n", " ")
	first := 0
	msg = yamlLine.ReplaceAllStringFunc(msg, func(s string) string {
		n, _ := strconv.Atoi(s[len("line "):])
		if first == 0 {
			first = n + docLine - 1
		}
		return "line " + strconv.Itoa(n+docLine-1)
	})
	if first == 0 {
		return fmt.Sprintf("invalid YAML in document starting at line %d: %s", docLine, msg)
	}
	return fmt.Sprintf("invalid YAML at line %d: %s", first, msg)
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// joinField joins a List item prefix and a field path.
func joinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}
