package llm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Errors returned by ScanModel.
var (
	// ErrInvalidJSON: the body is not one well-formed JSON object.
	ErrInvalidJSON = errors.New("request body is not a JSON object")
	// ErrNoModel: the object has no "model" member.
	ErrNoModel = errors.New(`request body has no "model"`)
	// ErrModelNotString: "model" is present but not a non-empty string.
	ErrModelNotString = errors.New(`"model" must be a non-empty string`)
)

// ModelField is the result of ScanModel: the top-level "model" string and
// where its JSON string literal (quotes included) sits in the body, so the
// value can be replaced without decoding and re-encoding the document.
type ModelField struct {
	Model      string
	Start, End int
}

// maxScanDepth bounds nesting (as encoding/json does) so a hostile body
// cannot exhaust the stack.
const maxScanDepth = 10000

// ScanModel validates body as a single JSON object (surrounding whitespace
// allowed) and returns its top-level "model" member. It does one pass over
// the bytes and allocates only when the model string contains escapes. When
// "model" appears more than once the last one wins, as with encoding/json.
func ScanModel(body []byte) (ModelField, error) {
	s := scanner{b: body}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return ModelField{}, ErrInvalidJSON
	}
	var f ModelField
	found, bad := false, false
	ok := s.object(0, func(key []byte, keyEscaped bool, valStart int) bool {
		isModel := string(key) == "model"
		if keyEscaped {
			isModel = unquotedEquals(key, "model")
		}
		if !isModel {
			return s.value(1)
		}
		if s.i < len(s.b) && s.b[s.i] == '"' {
			start := s.i
			lit, escaped, ok := s.str()
			if !ok {
				return false
			}
			found, bad = true, false
			f = ModelField{Start: start, End: s.i}
			if escaped {
				var v string
				if json.Unmarshal(s.b[start:s.i], &v) != nil {
					return false
				}
				f.Model = v
			} else {
				f.Model = string(lit)
			}
			return true
		}
		found, bad = true, true
		return s.value(1)
	})
	if !ok {
		return ModelField{}, ErrInvalidJSON
	}
	s.space()
	if s.i != len(s.b) {
		return ModelField{}, ErrInvalidJSON
	}
	switch {
	case !found:
		return ModelField{}, ErrNoModel
	case bad || f.Model == "":
		return ModelField{}, ErrModelNotString
	}
	return f, nil
}

// unquotedEquals compares a JSON string body that has escapes with want.
func unquotedEquals(raw []byte, want string) bool {
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var v string
	return json.Unmarshal(quoted, &v) == nil && v == want
}

// scanner is a validating JSON reader over a byte slice (RFC 8259, as
// strict as encoding/json: no trailing commas, no comments, UTF-8 strings).
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads {...} at s.i; member is called for each member with the
// scanner positioned at the value and must consume it.
func (s *scanner) object(depth int, member func(key []byte, escaped bool, valStart int) bool) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++ // '{'
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		key, escaped, ok := s.str()
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if !member(key, escaped, s.i) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.space()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// value reads any JSON value at s.i.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) || depth > maxScanDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth, func([]byte, bool, int) bool { return s.value(depth + 1) })
	case c == '[':
		return s.array(depth)
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

func (s *scanner) array(depth int) bool {
	s.i++ // '['
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.space()
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && isDigit(s.b[s.i]) {
		s.i++
	}
	return s.i > start
}

func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return false
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if !s.digits() {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// str reads a string literal at s.i (which is '"'); it returns the bytes
// between the quotes and whether they contain escapes.
func (s *scanner) str() (raw []byte, escaped, ok bool) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		s.i = skipPlain(s.b, s.i)
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, true
		case c == '\\':
			escaped = true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 || !isHex4(s.b[s.i+1:s.i+5]) {
					return nil, false, false
				}
				s.i += 5
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				// encoding/json accepts invalid UTF-8 (replacing it);
				// so do we, to agree on what is JSON.
				escaped = true
			}
			s.i += n
		}
	}
	return nil, false, false
}

// skipPlain returns the index of the first byte at or after i that is not
// plain string content (see plainASCII). It tests eight bytes at a time: a
// word has no special byte when none of its bytes is below 0x20, a quote, a
// backslash or non-ASCII (the classic "has zero byte" bit trick).
func skipPlain(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		q := v ^ (ones * '"')   // zero byte where v has a quote
		bs := v ^ (ones * '\\') // zero byte where v has a backslash
		control := (v - ones*0x20) &^ v
		quote := (q - ones) &^ q
		backslash := (bs - ones) &^ bs
		if (control|quote|backslash|v)&highs != 0 {
			break
		}
	}
	for i < len(b) && plainASCII[b[i]] {
		i++
	}
	return i
}

// plainASCII marks the bytes a string literal may hold as they are: ASCII,
// not a control character, quote or backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			return false
		}
	}
	return true
}
