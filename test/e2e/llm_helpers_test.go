package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/standalone"
)

// seenRequest is what a fake upstream recorded about one request.
type seenRequest struct {
	Path, Host, Authorization, ModelHeader string
	ContentEncoding                        string
	ContentLength                          int64
	Chunked                                bool
	Body                                   []byte
	Model                                  string
}

// fakeLLM is an OpenAI-compatible upstream on 127.0.0.1: it answers chat
// completions, plain or streamed (SSE, one flush per chunk, usage in the
// last chunk when asked), naming itself in the content, and records what it
// received.
type fakeLLM struct {
	name string
	port int
	mu   sync.Mutex
	seen []seenRequest
	// release, when set, holds a stream after its first chunk until the test
	// has received that chunk (proving the gateway does not buffer).
	release chan struct{}
}

func newFakeLLM(t *testing.T, name string) *fakeLLM {
	t.Helper()
	f := &fakeLLM{name: name}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return f
}

func (f *fakeLLM) last() seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		return seenRequest{}
	}
	return f.seen[len(f.seen)-1]
}

func (f *fakeLLM) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func (f *fakeLLM) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	s := seenRequest{Path: r.URL.Path, Host: r.Host, Authorization: r.Header.Get("Authorization"),
		ModelHeader: r.Header.Get("X-Gateway-Model-Name"), ContentEncoding: r.Header.Get("Content-Encoding"),
		ContentLength: r.ContentLength, Chunked: len(r.TransferEncoding) > 0, Body: raw}
	doc := raw
	if s.ContentEncoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			doc, _ = io.ReadAll(zr)
		}
	}
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(doc, &req)
	s.Model = req.Model
	f.mu.Lock()
	f.seen = append(f.seen, s)
	f.mu.Unlock()
	if !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		w.Header().Set("X-Upstream", f.name)
		fmt.Fprintf(w, "plain answer from %s", f.name)
		return
	}
	content := "hello from " + f.name
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"c-%[1]s","object":"chat.completion","created":1,"model":"%[2]s-served",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":%[3]q},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}`, f.name, req.Model, content)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	chunk := func(delta, finish, usage string) {
		fmt.Fprintf(w, "data: {\"id\":\"s-%s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"%s-served\","+
			"\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]%s}\n\n", f.name, req.Model, delta, finish, usage)
		fl.Flush()
	}
	words := strings.SplitAfter(content, " ")
	chunk(fmt.Sprintf(`{"role":"assistant","content":%q}`, words[0]), "null", "")
	f.mu.Lock()
	release := f.release
	f.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-time.After(5 * time.Second): // the test fails on its own; do not hang
		}
	}
	for _, wd := range words[1:] {
		chunk(fmt.Sprintf(`{"content":%q}`, wd), "null", "")
	}
	chunk(`{}`, `"stop"`, "")
	if req.StreamOptions.IncludeUsage {
		fmt.Fprintf(w, "data: {\"id\":\"s-%s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"%s-served\","+
			"\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}\n\n", f.name, req.Model)
		fl.Flush()
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// llmGateway starts a standalone gateway like startGateway, with proxy
// options and a buffer receiving the policy access log.
func llmGateway(t *testing.T, opts proxy.Options, files map[string]string) (*gateway, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	opts.AccessLog = buf
	g := startGateway(t, files, func(o *standalone.Options) {
		o.Proxy = opts
		o.Metrics = prometheus.NewRegistry()
	})
	return g, buf
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// echoUpstream answers every request with what it received: the body's
// SHA-256 and length, Content-Encoding, Content-Length, chunking and the
// model header.
func echoUpstream(t *testing.T, name string) (host string, port int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		h := w.Header()
		h.Set("X-Upstream", name)
		h.Set("X-Body-Sha256", hex.EncodeToString(sum[:]))
		h.Set("X-Body-Len", fmt.Sprint(len(b)))
		h.Set("X-Seen-Content-Encoding", r.Header.Get("Content-Encoding"))
		h.Set("X-Seen-Content-Length", fmt.Sprint(r.ContentLength))
		h.Set("X-Seen-Chunked", fmt.Sprint(len(r.TransferEncoding) > 0))
		h.Set("X-Seen-Model", r.Header.Get("X-Gateway-Model-Name"))
		fmt.Fprintf(w, "from %s", name)
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// llmBackend is a StaticBackend YAML with an llm section.
func llmBackend(name string, port int, basePath, secretKey, models string) string {
	return fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: %[1]s, namespace: default}
spec:
  endpoints: ["127.0.0.1:%[2]d"]
  llm:
    baseURL: http://127.0.0.1:%[2]d%[3]s
    apiKeySecretRef: {name: llm-keys, key: %[4]s}
    models: %[5]s
`, name, port, basePath, secretKey, models)
}
