package llm

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func compress(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "raw-deflate":
		w, _ = flate.NewWriter(&buf, flate.DefaultCompression)
	}
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// onlyReader hides the concrete reader so the request is chunked.
type onlyReader struct{ io.Reader }

func TestReadBody(t *testing.T) {
	doc := []byte(`{"model":"m","pad":"` + strings.Repeat("y", 100) + `"}`)
	cases := []struct {
		name     string
		body     io.Reader
		enc      string
		max      int64
		state    BodyState
		decoded  []byte
		forwards []byte
	}{
		{"identity", bytes.NewReader(doc), "", 1 << 10, BodyComplete, doc, doc},
		{"at cap", bytes.NewReader(doc), "", int64(len(doc)), BodyComplete, doc, doc},
		{"over cap by length", bytes.NewReader(doc), "", int64(len(doc)) - 1, BodyTooLarge, nil, doc},
		{"over cap chunked", onlyReader{bytes.NewReader(doc)}, "", int64(len(doc)) - 1, BodyTooLarge, nil, doc},
		{"gzip", bytes.NewReader(compress(t, "gzip", doc)), "gzip", 1 << 10, BodyComplete, doc, compress(t, "gzip", doc)},
		{"deflate", bytes.NewReader(compress(t, "deflate", doc)), "deflate", 1 << 10, BodyComplete, doc, compress(t, "deflate", doc)},
		{"raw deflate", bytes.NewReader(compress(t, "raw-deflate", doc)), "deflate", 1 << 10, BodyComplete, doc, compress(t, "raw-deflate", doc)},
		{"gzip decoded over cap", bytes.NewReader(compress(t, "gzip", doc)), "gzip", int64(len(doc)) - 1, BodyTooLarge, nil, compress(t, "gzip", doc)},
		{"corrupt gzip", strings.NewReader("not gzip"), "gzip", 1 << 10, BodyUndecodable, nil, []byte("not gzip")},
		{"unknown encoding", strings.NewReader("zz"), "br", 1 << 10, BodyUndecodable, nil, []byte("zz")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", c.body)
			if _, chunked := c.body.(onlyReader); chunked {
				r.ContentLength = -1
			}
			if c.enc != "" {
				r.Header.Set("Content-Encoding", c.enc)
			}
			cl := r.ContentLength
			b, err := ReadBody(r, c.max)
			if err != nil {
				t.Fatal(err)
			}
			if b.State != c.state || !bytes.Equal(b.Decoded, c.decoded) {
				t.Errorf("state %d decoded %q; want %d %q", b.State, b.Decoded, c.state, c.decoded)
			}
			got, _ := io.ReadAll(r.Body)
			if !bytes.Equal(got, c.forwards) || r.ContentLength != cl || r.Header.Get("Content-Encoding") != c.enc {
				t.Errorf("forwarded %d bytes (Content-Length %d, encoding %q), want the %d bytes sent (Content-Length %d)",
					len(got), r.ContentLength, r.Header.Get("Content-Encoding"), len(c.forwards), cl)
			}
		})
	}
	t.Run("no body", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if b, err := ReadBody(r, 10); err != nil || b.State != BodyNone || r.Body != http.NoBody {
			t.Errorf("GET: %+v %v, body %T", b, err, r.Body)
		}
	})
	t.Run("gRPC stream not read", func(t *testing.T) {
		pr, pw := io.Pipe() // never closed: a stream the client keeps open
		defer pw.Close()
		r := httptest.NewRequest(http.MethodPost, "/pkg.Svc/Chat", pr)
		r.ContentLength = -1
		r.Header.Set("Content-Type", "application/grpc+proto")
		if b, err := ReadBody(r, 10); err != nil || b.State != BodyStream || r.Body != pr {
			t.Errorf("gRPC: %+v %v; want BodyStream with the body untouched", b, err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("connection reset")
		r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader("{"), errReader{boom}))
		r.ContentLength = -1
		if _, err := ReadBody(r, 10); !errors.Is(err, boom) {
			t.Errorf("err = %v, want the read error", err)
		}
	})
	t.Run("replay", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(doc))
		if _, err := ReadBody(r, 1<<10); err != nil {
			t.Fatal(err)
		}
		rc, err := r.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		again, _ := io.ReadAll(rc)
		if !bytes.Equal(again, doc) {
			t.Error("GetBody does not replay the body")
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestBodyError(t *testing.T) {
	for _, c := range []struct {
		state  BodyState
		err    error
		status int
		code   string
	}{
		{BodyTooLarge, nil, 413, CodeBodyTooLarge},
		{BodyNone, nil, 400, CodeMissingModel},
		{BodyUndecodable, nil, 400, CodeInvalidBody},
		{BodyStream, nil, 400, CodeInvalidBody},
		{BodyComplete, ErrNoModel, 400, CodeMissingModel},
		{BodyComplete, ErrModelNotString, 400, CodeMissingModel},
		{BodyComplete, ErrInvalidJSON, 400, CodeInvalidBody},
	} {
		status, msg, code := BodyError(c.state, c.err)
		if status != c.status || code != c.code || msg == "" {
			t.Errorf("BodyError(%d, %v) = %d %q %q; want %d %q", c.state, c.err, status, msg, code, c.status, c.code)
		}
	}
	w := httptest.NewRecorder()
	WriteError(w, 413, "too big", TypeInvalidRequest, CodeBodyTooLarge)
	want := `{"error":{"message":"too big","type":"invalid_request_error","param":null,"code":"request_too_large"}}`
	if w.Code != 413 || w.Body.String() != want || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("WriteError: %d %s %q", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
}
