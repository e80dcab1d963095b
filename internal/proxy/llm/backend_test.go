package llm

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

func TestPrepareRequest(t *testing.T) {
	b := NewBackend("StaticBackend/default/a", &ir.BackendLLM{Host: "api.example.com", PathPrefix: "/openai/v1/", APIKey: "sk-gw",
		Models: []ir.LLMModel{{Name: "fast", Upstream: "gpt-4o-mini"}, {Name: "gpt-4o"}}})
	if got := b.Models(); strings.Join(got, ",") != "fast,gpt-4o" {
		t.Errorf("Models() = %v", got)
	}
	cases := []struct {
		name, path, body, wantPath, wantBody string
	}{
		{"renamed", "/v1/chat/completions", `{"model":"fast","stream":true}`, "/openai/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true}`},
		{"kept", "/v1/embeddings", `{"model":"gpt-4o"}`, "/openai/v1/embeddings", `{"model":"gpt-4o"}`},
		{"unknown model kept", "/v1/chat/completions", `{ "model" : "other" }`, "/openai/v1/chat/completions", `{ "model" : "other" }`},
		{"path outside /v1", "/healthz", `{"model":"fast"}`, "/openai/v1/healthz", `{"model":"gpt-4o-mini"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body))
			r.Header.Set("Authorization", "Bearer client-secret")
			r.Header.Set("X-Api-Key", "client-secret")
			x := &Exchange{}
			var err error
			if x.Body, err = ReadBody(r, 1<<10); err != nil {
				t.Fatal(err)
			}
			x.Scan()
			b.PrepareRequest(r, x)
			got, _ := io.ReadAll(r.Body)
			if r.URL.Path != c.wantPath || string(got) != c.wantBody || r.ContentLength != int64(len(c.wantBody)) {
				t.Errorf("path %q body %q (Content-Length %d); want %q %q", r.URL.Path, got, r.ContentLength, c.wantPath, c.wantBody)
			}
			if r.Header.Get("Authorization") != "Bearer sk-gw" || r.Header.Get("X-Api-Key") != "" || r.Host != "api.example.com" {
				t.Errorf("Authorization %q, X-Api-Key %q, Host %q", r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), r.Host)
			}
		})
	}
	t.Run("no key configured strips the client's", func(t *testing.T) {
		nb := NewBackend("b", &ir.BackendLLM{})
		r := httptest.NewRequest(http.MethodPost, "/v1/x", bytes.NewReader(nil))
		r.Header.Set("Authorization", "Bearer client-secret")
		nb.PrepareRequest(r, &Exchange{Scanned: true, ScanErr: ErrInvalidJSON})
		if r.Header.Get("Authorization") != "" || r.URL.Path != "/v1/x" {
			t.Errorf("Authorization %q path %q", r.Header.Get("Authorization"), r.URL.Path)
		}
	})
}
