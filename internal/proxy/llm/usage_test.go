package llm

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/cel"
)

// flushRecorder counts flushes.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

func TestUsageWriterJSON(t *testing.T) {
	doc := `{"id":"x","model":"gpt-4o-2024","usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42}}`
	for _, gz := range []bool{false, true} {
		rec := httptest.NewRecorder()
		info := &cel.LLMInfo{}
		u := NewUsageWriter(rec, info)
		u.Header().Set("Content-Type", "application/json; charset=utf-8")
		body := []byte(doc)
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(body)
			_ = zw.Close()
			body = b.Bytes()
			u.Header().Set("Content-Encoding", "gzip")
		}
		u.WriteHeader(200)
		_, _ = u.Write(body[:10])
		_, _ = u.Write(body[10:])
		u.Finish()
		if !bytes.Equal(rec.Body.Bytes(), body) {
			t.Errorf("gzip=%v: the response was changed", gz)
		}
		if *info != (cel.LLMInfo{ResponseModel: "gpt-4o-2024", PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42}) {
			t.Errorf("gzip=%v: info = %+v", gz, *info)
		}
	}
}

func TestUsageWriterSSE(t *testing.T) {
	stream := "data: {\"model\":\"m-1\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n" +
		": keep-alive\n\n" +
		"data: {\"model\":\"m-1\",\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\r\n\r\n" +
		"data: {\"model\":\"m-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\n\n" +
		"data: [DONE]\n\n"
	// Split the stream at every position: events cut across writes are
	// still read.
	for cut := 1; cut < len(stream); cut += 7 {
		rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
		info := &cel.LLMInfo{}
		u := NewUsageWriter(rec, info)
		u.Header().Set("Content-Type", "text/event-stream")
		u.WriteHeader(200)
		for s := stream; len(s) > 0; {
			n := min(cut, len(s))
			_, _ = u.Write([]byte(s[:n]))
			u.Flush()
			s = s[n:]
		}
		u.Finish()
		if rec.Body.String() != stream {
			t.Fatalf("cut %d: the stream was changed", cut)
		}
		if rec.flushes == 0 {
			t.Fatalf("cut %d: Flush did not reach the client", cut)
		}
		if *info != (cel.LLMInfo{ResponseModel: "m-1", PromptTokens: 5, CompletionTokens: 7, TotalTokens: 12}) {
			t.Fatalf("cut %d: info = %+v", cut, *info)
		}
	}
}

func TestUsageWriterIgnoresOtherBodies(t *testing.T) {
	rec := httptest.NewRecorder()
	info := &cel.LLMInfo{RequestModel: "r"}
	u := NewUsageWriter(rec, info)
	u.Header().Set("Content-Type", "text/plain")
	_, _ = u.Write([]byte(`{"model":"x","usage":{"prompt_tokens":1}}`))
	u.Finish()
	if *info != (cel.LLMInfo{RequestModel: "r"}) {
		t.Errorf("a text/plain body was read: %+v", *info)
	}
	if _, ok := any(u).(http.Flusher); !ok {
		t.Error("UsageWriter is not a Flusher")
	}
	if u.Unwrap() != rec {
		t.Error("Unwrap does not return the wrapped writer")
	}
	if !strings.Contains(rec.Body.String(), "usage") {
		t.Error("body not passed through")
	}
}
