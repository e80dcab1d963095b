package llm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestScanModel(t *testing.T) {
	cases := []struct {
		name, body, model string
		err               error
	}{
		{"plain", `{"model":"gpt-4o","messages":[]}`, "gpt-4o", nil},
		{"spaces", " \n{ \"messages\" : [ {\"role\":\"user\",\"content\":\"hi \\\"model\\\"\"} ] , \"model\" : \"m-1\" }\t", "m-1", nil},
		{"escaped value", `{"model":"a\u0062c\/d"}`, "abc/d", nil},
		{"escaped key", `{"mod\u0065l":"x"}`, "x", nil},
		{"nested model ignored", `{"x":{"model":"inner"}}`, "", ErrNoModel},
		{"last wins", `{"model":"a","model":"b"}`, "b", nil},
		{"number model", `{"model":7}`, "", ErrModelNotString},
		{"empty model", `{"model":""}`, "", ErrModelNotString},
		{"null model", `{"model":null}`, "", ErrModelNotString},
		{"array top", `["model"]`, "", ErrInvalidJSON},
		{"trailing garbage", `{"model":"a"} x`, "", ErrInvalidJSON},
		{"trailing comma", `{"model":"a",}`, "", ErrInvalidJSON},
		{"bad number", `{"model":"a","n":01}`, "", ErrInvalidJSON},
		{"truncated", `{"model":"a","messages":[`, "", ErrInvalidJSON},
		{"not json", `model=gpt-4o`, "", ErrInvalidJSON},
		{"empty", ``, "", ErrInvalidJSON},
		{"control char", "{\"model\":\"a\x01\"}", "", ErrInvalidJSON},
		{"numbers", `{"a":-0.5e+10,"b":[1,2.0,3E2,true,false,null],"model":"m"}`, "m", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ScanModel([]byte(c.body))
			if !errors.Is(err, c.err) || f.Model != c.model {
				t.Fatalf("ScanModel(%q) = %q, %v; want %q, %v", c.body, f.Model, err, c.model, c.err)
			}
			if err == nil && !strings.HasPrefix(c.body[f.Start:f.End], `"`) {
				t.Errorf("span %d:%d = %q is not the string literal", f.Start, f.End, c.body[f.Start:f.End])
			}
		})
	}
}

func TestScanModelAllocations(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],"stream":true}`)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ScanModel(body); err != nil {
			t.Fatal(err)
		}
	})
	// One allocation: the model string itself.
	if allocs > 1 {
		t.Errorf("ScanModel allocates %v times, want at most 1", allocs)
	}
}

// FuzzScanModel checks ScanModel against encoding/json: it accepts exactly
// the JSON objects, and finds the same top-level "model" string; the span
// it reports decodes to that string.
func FuzzScanModel(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"a\u00e9\ud83d\ude00","stream":true,"n":-1.5e3}`,
		`{"x":{"model":"inner"},"model":null}`,
		`{"MODEL":"upper"}`, `[1,2]`, `{"model":"a"`, "{\"model\":\"\xff\"}", ` {} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ScanModel(body)
		var obj map[string]json.RawMessage
		jsonErr := json.Unmarshal(body, &obj)
		isObject := jsonErr == nil && obj != nil
		if (err == ErrInvalidJSON) == isObject {
			t.Fatalf("ScanModel(%q) err=%v but encoding/json object=%v (%v)", body, err, isObject, jsonErr)
		}
		if !isObject {
			return
		}
		raw, has := obj["model"]
		var want string
		isString := has && json.Unmarshal(raw, &want) == nil && len(raw) > 0 && raw[0] == '"'
		switch {
		case !has:
			if err != ErrNoModel {
				t.Fatalf("ScanModel(%q) = %v, want ErrNoModel", body, err)
			}
		case !isString || want == "":
			if err != ErrModelNotString {
				t.Fatalf("ScanModel(%q) = %q, %v; want ErrModelNotString", body, got.Model, err)
			}
		default:
			if err != nil || got.Model != want {
				t.Fatalf("ScanModel(%q) = %q, %v; want %q", body, got.Model, err, want)
			}
			var fromSpan string
			if json.Unmarshal(body[got.Start:got.End], &fromSpan) != nil || fromSpan != want {
				t.Fatalf("span %q does not decode to %q", body[got.Start:got.End], want)
			}
		}
	})
}

// TestSkipPlain compares the word-at-a-time scan with a byte loop for every
// special byte at every position of a 24-byte window.
func TestSkipPlain(t *testing.T) {
	naive := func(b []byte, i int) int {
		for i < len(b) && plainASCII[b[i]] {
			i++
		}
		return i
	}
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 24; pos++ {
			b := []byte(strings.Repeat("abcdefgh", 3))
			b[pos] = byte(c)
			for start := 0; start < 9; start++ {
				if got, want := skipPlain(b, start), naive(b, start); got != want {
					t.Fatalf("byte %#x at %d from %d: skipPlain %d, want %d", c, pos, start, got, want)
				}
			}
		}
	}
}

// BenchmarkScanModel: the 2 KB chat request of the proxy benchmarks.
func BenchmarkScanModel(b *testing.B) {
	head := `{"model":"gpt-b","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"`
	tail := `"}],"temperature":0.2,"stream":false}`
	body := []byte(head + strings.Repeat("lorem ipsum ", (2048-len(head)-len(tail))/12) + tail)
	b.Run("ScanModel", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ScanModel(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Baseline: encoding/json decoding only the model field.
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var v struct {
				Model string `json:"model"`
			}
			if err := json.Unmarshal(body, &v); err != nil || v.Model == "" {
				b.Fatal(err)
			}
		}
	})
}
