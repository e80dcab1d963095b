package upstream

import (
	"context"
	"io"
	"net/http"
	"time"
)

// defaultMirrorTimeout bounds a mirrored request whose Target has no
// Timeout, so a mirror slot is always given back.
const defaultMirrorTimeout = 30 * time.Second

// Mirror sends a copy of req (method, headers, body) to t in the background
// and discards the reply. It never blocks and never affects the main
// request. The body is taken from req.GetBody, so the caller must have
// buffered it; a request with a body but no GetBody, and protocol upgrades,
// are not mirrored. At most maxMirrorsInFlight mirrors run at once; beyond
// that they are dropped.
func (r *Registry) Mirror(req *http.Request, t Target) {
	if req.Header.Get("Upgrade") != "" {
		return
	}
	body, ok := mirrorBody(req)
	if !ok {
		r.log.Debug("mirror skipped: request body is not replayable", "backend", t.Backend)
		return
	}
	select {
	case r.mirrorSlots <- struct{}{}:
	default:
		if body != nil {
			_ = body.Close()
		}
		r.log.Debug("mirror dropped: too many in flight", "backend", t.Backend)
		return
	}
	if t.Timeout <= 0 {
		t.Timeout = defaultMirrorTimeout
	}
	t.ModifyResponse = nil
	// The copy must not be canceled with the main request, which usually
	// finishes first.
	out := req.Clone(context.WithoutCancel(req.Context()))
	out.Body = body
	if body == nil {
		out.Body = http.NoBody
	}
	go r.runMirror(out, t)
}

func (r *Registry) runMirror(req *http.Request, t Target) {
	defer func() { <-r.mirrorSlots }()
	defer func() {
		// ReverseProxy aborts a broken response copy with
		// panic(http.ErrAbortHandler); outside a server that must be
		// recovered here.
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			r.log.Error("mirror panicked", "backend", t.Backend, "panic", v)
		}
	}()
	r.forward(&discardWriter{}, req, &t, true)
}

// mirrorBody returns a fresh copy of req's body (nil when it has none) and
// whether one could be made.
func mirrorBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 && req.GetBody == nil {
		return nil, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return b, true
}

// discardWriter is the ResponseWriter of a mirrored request.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = make(http.Header)
	}
	return d.h
}

func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}
