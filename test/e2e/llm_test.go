package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/listener"
)

const llmKeys = `apiVersion: v1
kind: Secret
metadata: {name: llm-keys, namespace: default}
stringData: {key-a: secret-a, key-b: secret-b}
`

// llmRoutes routes by the model header to the LLM backends a, b and c (c's
// Secret is missing), "plain-model" to the echo backend, everything else to
// the echo backend too (the fall-through route).
const llmRoutes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: llm, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches:
    - headers: [{name: X-Gateway-Model-Name, value: gpt-a}]
    - headers: [{name: X-Gateway-Model-Name, value: alias-a}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: a}]
  - matches: [{headers: [{name: X-Gateway-Model-Name, value: gpt-b}]}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: b}]
  - matches: [{headers: [{name: X-Gateway-Model-Name, value: gpt-c}]}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: c}]
  - matches: [{headers: [{name: X-Gateway-Model-Name, value: plain-model}]}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: echo}]
  - backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: echo}]
`

// llmPolicy enables the model shorthand with a 4 KiB cap (so the cap is
// cheap to test) and logs the llm variables.
const llmPolicy = `apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: llm, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  preRouting:
    model: {}
    maxBodyBytes: %d
    onFailure: %s
  accessLog:
    fields:
    - {name: requested, value: llm.requestModel}
    - {name: served, value: llm.responseModel}
    - {name: prompt, value: llm.promptTokens}
    - {name: completion, value: llm.completionTokens}
    - {name: total, value: llm.totalTokens}
    - {name: path, value: request.path}
`

type llmEnv struct {
	g       *gateway
	log     *syncBuffer
	a, b    *fakeLLM
	openai  openai.Client
	capSize int
}

func startLLMGateway(t *testing.T, opts proxy.Options, capSize int, onFailure string) *llmEnv {
	t.Helper()
	e := &llmEnv{a: newFakeLLM(t, "a"), b: newFakeLLM(t, "b"), capSize: capSize}
	eh, ep := echoUpstream(t, "echo")
	e.g, e.log = llmGateway(t, opts, map[string]string{
		"secret.yaml": llmKeys,
		"backends.yaml": llmBackend("a", e.a.port, "/v1", "key-a", `[{name: gpt-a}, {name: alias-a, upstreamName: gpt-a-2025}]`) +
			"---\n" + llmBackend("b", e.b.port, "/openai/v1", "key-b", `[{name: gpt-b}]`) +
			"---\n" + strings.Replace(llmBackend("c", e.b.port, "/v1", "key-c", `[{name: gpt-c}]`), "llm-keys", "missing-keys", 1) +
			"---\n" + staticBackend("echo", eh, ep),
		"routes.yaml":   llmRoutes,
		"policies.yaml": fmt.Sprintf(llmPolicy, capSize, onFailure),
	})
	e.openai = openai.NewClient(option.WithBaseURL(e.g.url("/v1/")), option.WithAPIKey("client-key"),
		option.WithMaxRetries(0), option.WithRequestTimeout(5*time.Second))
	eventually(t, "LLM routes", func() bool {
		resp, _ := e.post("/v1/chat/completions", `{"model":"gpt-b","messages":[]}`, nil)
		return resp.StatusCode == 200 && e.b.count() > 0
	})
	return e
}

// post sends body (an io.Reader is sent chunked) with extra headers.
func (e *llmEnv) post(path string, body any, hdr map[string]string) (*http.Response, string) {
	e.g.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	}
	req, err := http.NewRequest(http.MethodPost, e.g.url(path), rd)
	if err != nil {
		e.g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		e.g.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

func chatParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
}

// TestLLMOpenAISDK drives the gateway with the official OpenAI Go SDK:
// requests are routed by the body's model to two fake upstreams, with the
// gateway's API keys, base paths and model renames; streams arrive chunk by
// chunk; /v1/models lists the routed models; the access log has the llm.*
// facts from plain and streamed responses.
func TestLLMOpenAISDK(t *testing.T) {
	e := startLLMGateway(t, proxy.Options{}, 4096, "FallThrough")
	ctx := context.Background()

	res, err := e.openai.Chat.Completions.New(ctx, chatParams("gpt-a"))
	if err != nil {
		t.Fatalf("gpt-a: %v", err)
	}
	seen := e.a.last()
	if res.Choices[0].Message.Content != "hello from a" || seen.Model != "gpt-a" {
		t.Errorf("gpt-a answered %q, upstream saw model %q", res.Choices[0].Message.Content, seen.Model)
	}
	if seen.Authorization != "Bearer secret-a" || seen.Path != "/v1/chat/completions" || seen.Host != fmt.Sprintf("127.0.0.1:%d", e.a.port) {
		t.Errorf("upstream a saw Authorization %q path %q host %q; want the gateway's key, /v1/chat/completions, the API host",
			seen.Authorization, seen.Path, seen.Host)
	}

	res, err = e.openai.Chat.Completions.New(ctx, chatParams("alias-a"))
	if err != nil {
		t.Fatalf("alias-a: %v", err)
	}
	if seen = e.a.last(); seen.Model != "gpt-a-2025" || res.Model != "gpt-a-2025-served" {
		t.Errorf("alias-a: upstream saw model %q (want the rename gpt-a-2025), response model %q", seen.Model, res.Model)
	}
	var fields map[string]any
	if json.Unmarshal(seen.Body, &fields) != nil || fields["messages"] == nil || int64(len(seen.Body)) != seen.ContentLength {
		t.Errorf("renamed body %q (Content-Length %d) is not the client's document", seen.Body, seen.ContentLength)
	}

	res, err = e.openai.Chat.Completions.New(ctx, chatParams("gpt-b"))
	if err != nil {
		t.Fatalf("gpt-b: %v", err)
	}
	if seen = e.b.last(); res.Choices[0].Message.Content != "hello from b" || seen.Authorization != "Bearer secret-b" ||
		seen.Path != "/openai/v1/chat/completions" {
		t.Errorf("gpt-b: %q; upstream saw Authorization %q path %q", res.Choices[0].Message.Content, seen.Authorization, seen.Path)
	}

	t.Run("stream", func(t *testing.T) {
		release := make(chan struct{})
		e.b.mu.Lock()
		e.b.release = release
		e.b.mu.Unlock()
		defer func() {
			e.b.mu.Lock()
			e.b.release = nil
			e.b.mu.Unlock()
		}()
		p := chatParams("gpt-b")
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := e.openai.Chat.Completions.NewStreaming(ctx, p)
		var text strings.Builder
		var usage openai.CompletionUsage
		chunks := 0
		for stream.Next() {
			c := stream.Current()
			if chunks == 0 {
				// The upstream holds the rest of the stream until we have
				// this chunk: a gateway that buffered would never deliver it.
				close(release)
			}
			chunks++
			if len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
			if c.Usage.TotalTokens > 0 {
				usage = c.Usage
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-release:
		default:
			t.Fatal("no chunk arrived")
		}
		if text.String() != "hello from b" || usage.PromptTokens != 5 || usage.CompletionTokens != 7 || usage.TotalTokens != 12 {
			t.Errorf("stream: %d chunks, text %q, usage %+v", chunks, text.String(), usage)
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := e.openai.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		if want := []string{"alias-a", "gpt-a", "gpt-b", "gpt-c", "plain-model"}; !slices.Equal(ids, want) {
			t.Errorf("models = %v, want %v", ids, want)
		}
	})

	t.Run("unusable backend", func(t *testing.T) {
		_, err := e.openai.Chat.Completions.New(ctx, chatParams("gpt-c"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Code != "backend_unavailable" {
			t.Errorf("gpt-c (Secret missing): %v, want 503 backend_unavailable", err)
		}
	})

	t.Run("token metric", func(t *testing.T) {
		metrics := e.g.adminGet("/metrics")
		for _, want := range []string{
			`gatehouse_proxy_llm_tokens_total{backend="StaticBackend/default/a",model="gpt-a",type="prompt"} 11`,
			`gatehouse_proxy_llm_tokens_total{backend="StaticBackend/default/a",model="alias-a",type="completion"} 3`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if !strings.Contains(metrics, `gatehouse_proxy_llm_tokens_total{backend="StaticBackend/default/b",model="gpt-b",type="completion"}`) {
			t.Error("/metrics lacks the streamed completion tokens of gpt-b")
		}
	})

	t.Run("config dump hides the API key", func(t *testing.T) {
		if dump := e.g.adminGet("/config_dump"); strings.Contains(dump, "secret-a") || !strings.Contains(dump, "REDACTED") {
			t.Error("the admin config dump shows the API key (or no redacted LLM backend)")
		}
	})

	t.Run("access log", func(t *testing.T) {
		// requested, served, prompt, completion, total, path
		want := map[string]bool{
			"gpt-a gpt-a-served 11 3 14 /v1/chat/completions":        false,
			"alias-a gpt-a-2025-served 11 3 14 /v1/chat/completions": false,
			"gpt-b gpt-b-served 5 7 12 /openai/v1/chat/completions":  false, // streamed
			"gpt-b gpt-b-served 11 3 14 /openai/v1/chat/completions": false,
		}
		defer func() {
			if t.Failed() {
				t.Logf("access log:\n%s", strings.Join(e.log.lines(), "\n"))
			}
		}()
		eventually(t, "access-log lines", func() bool {
			for _, line := range e.log.lines() {
				var f map[string]any
				if json.Unmarshal([]byte(line), &f) != nil {
					continue
				}
				want[fmt.Sprint(f["requested"], " ", f["served"], " ", f["prompt"], " ", f["completion"], " ", f["total"], " ", f["path"])] = true
			}
			for _, ok := range want {
				if !ok {
					return false
				}
			}
			return true
		})
	})
}

// TestLLMModelHeaderCannotBeSpoofed: whatever a client sends in the model
// header is replaced by the body's model, or removed when there is none.
func TestLLMModelHeaderCannotBeSpoofed(t *testing.T) {
	e := startLLMGateway(t, proxy.Options{}, 4096, "FallThrough")
	spoof := map[string]string{"X-Gateway-Model-Name": "gpt-b"}
	for name, body := range map[string]string{
		"not JSON":      "model=gpt-b",
		"no model":      `{"messages":[]}`,
		"nested model":  `{"x":{"model":"gpt-b"}}`,
		"numeric model": `{"model":42}`,
	} {
		resp, _ := e.post("/v1/chat/completions", body, spoof)
		if up, m := resp.Header.Get("X-Upstream"), resp.Header.Get("X-Seen-Model"); up != "echo" || m != "" {
			t.Errorf("%s with a spoofed header: upstream %q saw model header %q; want the fall-through route without it", name, up, m)
		}
	}
	resp, _ := e.g.get("/v1/chat/completions", "", "X-Gateway-Model-Name", "gpt-b")
	if resp.Header.Get("X-Upstream") != "echo" || resp.Header.Get("X-Seen-Model") != "" {
		t.Errorf("GET with a spoofed header reached %q (model header %q)", resp.Header.Get("X-Upstream"), resp.Header.Get("X-Seen-Model"))
	}
	before := e.b.count()
	if resp, _ = e.post("/v1/chat/completions", `{"model":"gpt-a","messages":[]}`, spoof); resp.StatusCode != 200 || e.a.last().ModelHeader != "gpt-a" {
		t.Errorf("body says gpt-a, header says gpt-b: status %d, upstream a saw header %q", resp.StatusCode, e.a.last().ModelHeader)
	}
	if e.b.count() != before {
		t.Error("the spoofed header reached backend b")
	}
}

// modelBody returns a JSON document with the model first, padded to
// exactly size bytes.
func modelBody(model string, size int) []byte {
	head := `{"model":"` + model + `","pad":"`
	tail := `"}`
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}

// onlyReader hides bytes.Reader's Len so net/http sends the body chunked.
type onlyReader struct{ io.Reader }

// TestLLMBodyCapAndFraming: a body of exactly the cap is inspected and
// routed, one byte more falls through; either way the upstream receives
// the same bytes with the same framing (Content-Length or chunked).
func TestLLMBodyCapAndFraming(t *testing.T) {
	e := startLLMGateway(t, proxy.Options{}, 4096, "FallThrough")
	for _, c := range []struct {
		name       string
		size       int
		chunked    bool
		wantRouted bool
	}{
		{"at cap", 4096, false, true},
		{"over cap", 4097, false, false},
		{"at cap chunked", 4096, true, true},
		{"over cap chunked", 4097, true, false},
		{"far over cap chunked", 300_000, true, false},
		{"far over cap", 300_000, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := modelBody("plain-model", c.size)
			var send any = body
			if c.chunked {
				send = onlyReader{bytes.NewReader(body)}
			}
			resp, _ := e.post("/v1/chat/completions", send, nil)
			h := resp.Header
			if h.Get("X-Body-Sha256") != sha256Hex(body) || h.Get("X-Body-Len") != fmt.Sprint(c.size) {
				t.Errorf("upstream got %s bytes (sha %s), want the %d bytes sent", h.Get("X-Body-Len"), h.Get("X-Body-Sha256"), c.size)
			}
			if got := h.Get("X-Seen-Chunked") == "true"; got != c.chunked {
				t.Errorf("upstream chunked = %v, want %v (Content-Length %s)", got, c.chunked, h.Get("X-Seen-Content-Length"))
			}
			if !c.chunked && h.Get("X-Seen-Content-Length") != fmt.Sprint(c.size) {
				t.Errorf("upstream Content-Length %s, want %d", h.Get("X-Seen-Content-Length"), c.size)
			}
			if routed := h.Get("X-Seen-Model") == "plain-model"; routed != c.wantRouted {
				t.Errorf("model header %q; routed by model = %v, want %v", h.Get("X-Seen-Model"), routed, c.wantRouted)
			}
		})
	}
}

// TestLLMCompressedBodies: gzip and deflate bodies are decoded to find the
// model and forwarded as sent; a body the gateway renames for an LLM
// backend is sent decoded.
func TestLLMCompressedBodies(t *testing.T) {
	e := startLLMGateway(t, proxy.Options{}, 4096, "FallThrough")
	doc := []byte(`{"model":"plain-model","messages":[{"role":"user","content":"` + strings.Repeat("compress me ", 50) + `"}]}`)
	var gz, zl bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(doc)
	_ = zw.Close()
	lw := zlib.NewWriter(&zl)
	_, _ = lw.Write(doc)
	_ = lw.Close()
	for enc, raw := range map[string][]byte{"gzip": gz.Bytes(), "deflate": zl.Bytes()} {
		resp, _ := e.post("/v1/chat/completions", raw, map[string]string{"Content-Encoding": enc})
		h := resp.Header
		if h.Get("X-Seen-Model") != "plain-model" || h.Get("X-Seen-Content-Encoding") != enc || h.Get("X-Body-Sha256") != sha256Hex(raw) {
			t.Errorf("%s: model header %q, encoding %q, body sha %s (want the compressed bytes %s)", enc,
				h.Get("X-Seen-Model"), h.Get("X-Seen-Content-Encoding"), h.Get("X-Body-Sha256"), sha256Hex(raw))
		}
	}
	// A gzip bomb over the cap once decoded is not inspected.
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	_, _ = zw.Write(modelBody("plain-model", 100_000))
	_ = zw.Close()
	if resp, _ := e.post("/v1/chat/completions", bomb.Bytes(), map[string]string{"Content-Encoding": "gzip"}); resp.Header.Get("X-Seen-Model") != "" {
		t.Errorf("a body over the cap once decoded was routed by model")
	}
	// Renamed for an LLM backend: sent decoded, with the new model.
	gz.Reset()
	zw = gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"model":"alias-a","messages":[]}`))
	_ = zw.Close()
	resp, _ := e.post("/v1/chat/completions", gz.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if seen := e.a.last(); resp.StatusCode != 200 || seen.Model != "gpt-a-2025" || seen.ContentEncoding != "" {
		t.Errorf("gzip alias-a: status %d, upstream saw model %q encoding %q", resp.StatusCode, seen.Model, seen.ContentEncoding)
	}
}

// TestLLMSlowClient: a client trickling its body holds only its own
// request; other requests are served meanwhile, and the slow one is routed
// by its model once complete. A client slower than the listener's minimum
// body rate (after its grace period) gets 408.
func TestLLMSlowClient(t *testing.T) {
	e := startLLMGateway(t, proxy.Options{Listener: listener.Options{MinBodyRate: 1000, BodyRateGrace: 300 * time.Millisecond}},
		4096, "FallThrough")
	body := `{"model":"gpt-b","messages":[{"role":"user","content":"slowly"}]}`
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.g.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body[:10])
	// While the slow body is pending, another client is served.
	if _, err := e.openai.Chat.Completions.New(context.Background(), chatParams("gpt-a")); err != nil {
		t.Fatalf("request during a slow upload: %v", err)
	}
	_, _ = io.WriteString(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(out), "hello from b") {
		t.Errorf("slow request: %d %s", resp.StatusCode, out)
	}

	// Too slow: the body never completes within the timeout.
	conn2, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.g.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	fmt.Fprintf(conn2, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	resp, err = http.ReadResponse(bufio.NewReader(conn2), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(out), `"code":"request_timeout"`) {
		t.Errorf("stalled body: %d %s, want 408 request_timeout", resp.StatusCode, out)
	}
}

// TestLLMRejectMode: with onFailure: Reject, bodies that cannot be routed
// get OpenAI-style errors; bodiless GETs still fall through.
func TestLLMRejectMode(t *testing.T) {
	e := startLLMGateway(t, proxy.Options{}, 1024, "Reject")
	for _, c := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"not JSON", "model=gpt-a", 400, "invalid_body"},
		{"missing model", `{"messages":[]}`, 400, "missing_model"},
		{"model not a string", `{"model":1}`, 400, "missing_model"},
		{"too large", string(modelBody("gpt-a", 1025)), 413, "request_too_large"},
		{"at cap", string(modelBody("gpt-a", 1024)), 200, ""},
	} {
		resp, out := e.post("/v1/chat/completions", c.body, map[string]string{"X-Gateway-Model-Name": "gpt-b"})
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, resp.StatusCode, c.status, out)
			continue
		}
		if c.code == "" {
			continue
		}
		var doc struct {
			Error struct {
				Message, Type, Code string
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Error.Code != c.code ||
			doc.Error.Type != "invalid_request_error" || doc.Error.Message == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: error body %s (%s), want code %s", c.name, out, resp.Header.Get("Content-Type"), c.code)
		}
	}
	if resp, _ := e.g.get("/healthz", ""); resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "echo" {
		t.Errorf("bodiless GET in reject mode: %d from %q, want the fall-through route", resp.StatusCode, resp.Header.Get("X-Upstream"))
	}
	_, err := e.openai.Chat.Completions.New(context.Background(), chatParams(""))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "missing_model" {
		t.Errorf("SDK with an empty model: %v, want a 400 missing_model API error", err)
	}
}
