package llm

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// BodyState says what ReadBody found.
type BodyState uint8

// Body states.
const (
	// BodyNone: the request has no body; nothing was read.
	BodyNone BodyState = iota
	// BodyComplete: the whole body was buffered (and decoded).
	BodyComplete
	// BodyTooLarge: the body (as sent, or decoded) is over the cap; the
	// request still carries every byte, unread bytes included.
	BodyTooLarge
	// BodyUndecodable: the Content-Encoding is unknown or the compressed
	// bytes are corrupt; the raw bytes are forwarded as sent.
	BodyUndecodable
	// BodyStream: a streaming protocol (gRPC); not read, since the client
	// may keep the stream open, and forwarded untouched.
	BodyStream
)

// Body is a request body buffered for inspection.
type Body struct {
	State BodyState
	// Raw is the body as sent (possibly compressed).
	Raw []byte
	// Decoded is the body to inspect: Raw itself when it was not encoded.
	Decoded []byte
	// Encoded is true when Decoded was obtained by decompressing Raw.
	Encoded bool
}

// ReadBody buffers up to max bytes of r's body and puts the bytes back, so
// the upstream receives exactly what the client sent: a fully read body is
// replayed from memory with the same Content-Length (or none, for chunked
// requests); a body over the cap continues with the unread rest of the
// stream. gzip and deflate bodies are decoded for inspection, also within
// max. The error is a read failure (the client went away or was too slow);
// the request cannot be forwarded then.
func ReadBody(r *http.Request, max int64) (Body, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return Body{}, nil
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/grpc") || strings.HasPrefix(ct, "application/connect+") {
		// Waiting for the end of a bidirectional stream would stall it.
		return Body{State: BodyStream}, nil
	}
	if r.ContentLength > max {
		// Known too large: read nothing and forward the stream untouched.
		return Body{State: BodyTooLarge}, nil
	}
	orig := r.Body
	raw, err := readUpTo(orig, r.ContentLength, max)
	if err != nil {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(raw), orig), orig}
		return Body{}, fmt.Errorf("reading request body: %w", err)
	}
	if int64(len(raw)) > max {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(raw), orig), orig}
		return Body{State: BodyTooLarge}, nil
	}
	Replay(r, raw)
	b := Body{State: BodyComplete, Raw: raw, Decoded: raw}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return b, nil
	case "gzip", "x-gzip", "deflate":
		dec, err := decode(enc, raw, max)
		switch {
		case errors.Is(err, errTooLarge):
			b.State, b.Decoded = BodyTooLarge, nil
		case err != nil:
			b.State, b.Decoded = BodyUndecodable, nil
		default:
			b.Decoded, b.Encoded = dec, true
		}
		return b, nil
	}
	b.State, b.Decoded = BodyUndecodable, nil
	return b, nil
}

// readUpTo reads at most max+1 bytes (one more than the cap, to detect a
// body over it). With a known length the buffer is allocated once, at its
// final size, instead of growing.
func readUpTo(rd io.Reader, length, max int64) ([]byte, error) {
	if length < 0 {
		return io.ReadAll(io.LimitReader(rd, max+1))
	}
	buf := make([]byte, length, length+1)
	n, err := io.ReadFull(rd, buf)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // shorter than its Content-Length
	}
	if err != nil {
		return buf[:n], err
	}
	// A body longer than announced cannot happen with net/http's framing;
	// read one more byte anyway so a lying reader is caught.
	var one [1]byte
	if m, _ := rd.Read(one[:]); m > 0 {
		buf = append(buf, one[0])
	}
	return buf, nil
}

// Replay makes r's body the bytes b, readable again for retries, keeping
// r.ContentLength (so a chunked request stays chunked).
func Replay(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// ReplaceBody makes b the request body and fixes the framing headers: an
// explicit Content-Length, no Content-Encoding (b is not compressed).
func ReplaceBody(r *http.Request, b []byte) {
	Replay(r, b)
	r.ContentLength = int64(len(b))
	r.TransferEncoding = nil
	r.Header.Del("Content-Encoding")
	r.Header.Del("Content-Length") // the transport writes it from ContentLength
}

var errTooLarge = errors.New("decoded body over the cap")

// decode decompresses raw, refusing output over max (a compression bomb
// must not exhaust memory).
func decode(enc string, raw []byte, max int64) ([]byte, error) {
	var rd io.ReadCloser
	var err error
	switch enc {
	case "deflate":
		// HTTP's "deflate" is zlib-wrapped; some clients send raw deflate.
		if rd, err = zlib.NewReader(bytes.NewReader(raw)); err != nil {
			rd, err = flate.NewReader(bytes.NewReader(raw)), nil
		}
	default:
		rd, err = gzip.NewReader(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	out, err := io.ReadAll(io.LimitReader(rd, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > max {
		return nil, errTooLarge
	}
	return out, nil
}
