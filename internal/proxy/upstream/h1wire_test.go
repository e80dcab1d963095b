package upstream

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestReadResponseHead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error
		status  int
		length  int64
		chunked bool
		close   bool
		fields  map[string]string // end-to-end fields after copyTo
	}{
		{name: "basic", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\n", status: 200, length: 3,
			fields: map[string]string{"Content-Length": "3", "X-A": "b"}},
		{name: "no reason, bare LF", in: "HTTP/1.1 404\nContent-Length: 0\n\n", status: 404, length: 0},
		{name: "HTTP/1.0 closes", in: "HTTP/1.0 200 OK\r\n\r\n", status: 200, length: -1, close: true},
		{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", status: 200},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", status: 200, length: -1, close: true},
		{name: "chunked wins over length", in: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n",
			status: 200, length: -1, chunked: true, close: true, fields: map[string]string{"Content-Length": ""}},
		{name: "connection-listed dropped", in: "HTTP/1.1 200 OK\r\nConnection: X-Y\r\nX-Y: 1\r\nX-Z: 2\r\n\r\n", status: 200, length: -1,
			fields: map[string]string{"X-Y": "", "X-Z": "2", "Connection": ""}},
		{name: "same length twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", status: 200, length: 3},
		{name: "obs-fold", in: "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", wantErr: errObsFold},
		{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", wantErr: errBadLength},
		{name: "length with sign", in: "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n", wantErr: errBadLength},
		{name: "gzip coding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantErr: errUnsupportedTE},
		{name: "short status line", in: "HTTP/1.1 20\r\n\r\n", wantErr: errBadStatusLine},
		{name: "HTTP/2 status line", in: "HTTP/2 200 OK\r\n\r\n", wantErr: errBadStatusLine},
		{name: "status below 100", in: "HTTP/1.1 099 X\r\n\r\n", wantErr: errBadStatusLine},
		{name: "no colon", in: "HTTP/1.1 200 OK\r\nbogus\r\n\r\n", wantErr: errBadHeaderLine},
		{name: "control character", in: "HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n", wantErr: errBadHeaderLine},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h respHead
			err := readResponseHead(bufio.NewReaderSize(strings.NewReader(tc.in), 16), &h)
			if tc.wantErr != nil {
				if err != tc.wantErr {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.status != tc.status || h.contentLength != tc.length && tc.length != 0 || h.chunked != tc.chunked || h.close != tc.close {
				t.Fatalf("got status %d length %d chunked %v close %v", h.status, h.contentLength, h.chunked, h.close)
			}
			hdr := http.Header{}
			h.copyTo(hdr, "")
			for k, v := range tc.fields {
				if got := hdr.Get(k); got != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, got, v, hdr)
				}
			}
		})
	}
}

// TestReadResponseHeadLongLine: a field longer than the read buffer is
// assembled; a head over the limit is refused.
func TestReadResponseHeadLongLine(t *testing.T) {
	long := strings.Repeat("v", 3*h1ReadBufferSize)
	var h respHead
	in := "HTTP/1.1 200 OK\r\nX-Long: " + long + "\r\n\r\n"
	if err := readResponseHead(bufio.NewReaderSize(strings.NewReader(in), h1ReadBufferSize), &h); err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	h.copyTo(hdr, "")
	if hdr.Get("X-Long") != long {
		t.Fatalf("long field not assembled: %d bytes", len(hdr.Get("X-Long")))
	}
	huge := "HTTP/1.1 200 OK\r\nX-Huge: " + strings.Repeat("v", maxResponseHeadBytes) + "\r\n\r\n"
	if err := readResponseHead(bufio.NewReader(strings.NewReader(huge)), &h); err != errHeadTooLarge {
		t.Fatalf("err %v, want %v", err, errHeadTooLarge)
	}
}

func TestWriteRequestHeadRejectsInjection(t *testing.T) {
	for _, hdr := range []http.Header{
		{"X-A": {"ok\r\nX-Injected: 1"}},
		{"Bad Name": {"v"}},
	} {
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}, Host: "h", Header: hdr}
		var buf bytes.Buffer
		if err := writeRequestHead(bufio.NewWriter(&buf), req, &requestHead{proto: "http"}); err != errInvalidRequest {
			t.Errorf("%v: err %v, want %v", hdr, err, errInvalidRequest)
		}
	}
}

// FuzzReadResponseHead: no input makes the parser panic, and what it
// accepts is self-consistent. Seeds are in testdata/fuzz.
func FuzzReadResponseHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var h respHead
		if err := readResponseHead(bufio.NewReaderSize(bytes.NewReader(in), 16), &h); err != nil {
			return
		}
		if h.status < 100 || h.status > 999 || h.contentLength < -1 || h.chunked && h.contentLength != -1 {
			t.Fatalf("inconsistent head: status %d length %d chunked %v", h.status, h.contentLength, h.chunked)
		}
		hdr := http.Header{}
		h.copyTo(hdr, "")
		for k, vs := range hdr {
			if !validFieldName(k) {
				t.Fatalf("invalid field name %q passed on", k)
			}
			for _, v := range vs {
				if !validFieldValue(v) {
					t.Fatalf("invalid field value %q passed on", v)
				}
			}
		}
	})
}
