package llm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"

	"gatehouse.dev/gatehouse/internal/cel"
)

// maxUsageBody bounds how much of a non-streamed response is kept to read
// its usage; a larger response is passed through without token counts.
const maxUsageBody = 4 << 20

// maxSSELine bounds one buffered SSE line.
const maxSSELine = 1 << 20

// UsageWriter passes a response through unchanged and unbuffered (every
// Flush reaches the client) while reading the backend's reported model and
// token usage: from the JSON body of a plain response, or from the SSE
// "data:" events of a stream (where usage arrives in the last chunks).
type UsageWriter struct {
	http.ResponseWriter
	info *cel.LLMInfo

	kind     uint8 // 0 undecided, 1 JSON, 2 SSE, 3 other
	gzipped  bool
	buf      []byte // JSON: the body so far; SSE: the partial line
	overflow bool
}

const (
	kindUndecided = iota
	kindJSON
	kindSSE
	kindOther
)

// NewUsageWriter wraps w; what it reads goes into info.
func NewUsageWriter(w http.ResponseWriter, info *cel.LLMInfo) *UsageWriter {
	return &UsageWriter{ResponseWriter: w, info: info}
}

func (u *UsageWriter) decide() {
	if u.kind != kindUndecided {
		return
	}
	h := u.ResponseWriter.Header()
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		u.kind = kindSSE
	case "application/json":
		u.kind = kindJSON
		u.gzipped = h.Get("Content-Encoding") == "gzip"
	default:
		u.kind = kindOther
	}
}

// WriteHeader implements http.ResponseWriter.
func (u *UsageWriter) WriteHeader(code int) {
	u.decide()
	u.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter: the bytes go to the client first.
func (u *UsageWriter) Write(p []byte) (int, error) {
	u.decide()
	n, err := u.ResponseWriter.Write(p)
	switch u.kind {
	case kindJSON:
		if !u.overflow && len(u.buf)+n <= maxUsageBody {
			u.buf = append(u.buf, p[:n]...)
		} else {
			u.overflow, u.buf = true, nil
		}
	case kindSSE:
		u.sse(p[:n])
	}
	return n, err
}

// sse splits the stream into lines and reads each complete "data:" line.
func (u *UsageWriter) sse(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(u.buf)+len(p) <= maxSSELine {
				u.buf = append(u.buf, p...)
			} else {
				u.buf = u.buf[:0]
			}
			return
		}
		line := p[:i]
		if len(u.buf) > 0 {
			u.buf = append(u.buf, line...)
			line = u.buf
		}
		u.event(bytes.TrimRight(line, "\r"))
		u.buf = u.buf[:0]
		p = p[i+1:]
	}
}

var dataPrefix = []byte("data:")

func (u *UsageWriter) event(line []byte) {
	if !bytes.HasPrefix(line, dataPrefix) {
		return
	}
	payload := bytes.TrimSpace(line[len(dataPrefix):])
	if len(payload) == 0 || payload[0] != '{' {
		return // "[DONE]" and keep-alives
	}
	// Only the chunks that can change what we report are decoded: the
	// first (model) and those that carry usage.
	if u.info.ResponseModel != "" && !bytes.Contains(payload, []byte(`"usage"`)) {
		return
	}
	u.read(payload)
}

type usagePayload struct {
	Model string `json:"model"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		TotalTokens      int64 `json:"total_tokens"`
		InputTokens      int64 `json:"input_tokens"`
		OutputTokens     int64 `json:"output_tokens"`
	} `json:"usage"`
}

func (u *UsageWriter) read(doc []byte) {
	var p usagePayload
	if json.Unmarshal(doc, &p) != nil {
		return
	}
	if p.Model != "" {
		u.info.ResponseModel = p.Model
	}
	if us := p.Usage; us != nil {
		u.info.PromptTokens = max(us.PromptTokens, us.InputTokens)
		u.info.CompletionTokens = max(us.CompletionTokens, us.OutputTokens)
		u.info.TotalTokens = us.TotalTokens
		if u.info.TotalTokens == 0 {
			u.info.TotalTokens = u.info.PromptTokens + u.info.CompletionTokens
		}
	}
}

// Finish reads the usage of a plain JSON response once it is complete.
func (u *UsageWriter) Finish() {
	if u.kind != kindJSON || u.overflow || len(u.buf) == 0 {
		return
	}
	doc := u.buf
	if u.gzipped {
		zr, err := gzip.NewReader(bytes.NewReader(doc))
		if err != nil {
			return
		}
		if doc, err = io.ReadAll(io.LimitReader(zr, maxUsageBody)); err != nil {
			return
		}
	}
	u.read(doc)
	u.buf = nil
}

// Flush implements http.Flusher: streamed chunks reach the client at once.
func (u *UsageWriter) Flush() {
	if f, ok := u.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker for protocol upgrades.
func (u *UsageWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := u.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijacking not supported")
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (u *UsageWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }
