package policy

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"gatehouse.dev/gatehouse/internal/cel"
)

// MaxResponseBody is how much of a response body is buffered for a body
// expression that reads response.body. A longer body is forwarded unchanged.
const MaxResponseBody = 1 << 20

// ResponseBody returns the most specific response body expression, or nil.
func (a Applicable) ResponseBody() *cel.Program {
	t := a.mostSpecific(func(c *Compiled) *transform {
		if c.respTransform != nil && c.respTransform.body != nil {
			return c.respTransform
		}
		return nil
	})
	if t == nil {
		return nil
	}
	return t.body
}

// replacerState is where a BodyReplacer is in the response.
type replacerState uint8

const (
	// awaitingHead: no final status written yet.
	awaitingHead replacerState = iota
	// passing: the response goes through untouched.
	passing
	// buffering: the head is held back while the body is collected.
	buffering
	// replaced: the new body has been written; the upstream's is dropped.
	replaced
)

// BodyReplacer is an http.ResponseWriter that replaces the response body with
// the value of a CEL expression. When the expression does not read
// response.body it is evaluated as soon as the status is known and the
// upstream body is discarded unread-by-the-client; otherwise the body is
// buffered up to max bytes and the expression is evaluated in Finish. An
// expression that fails, a body over max, a HEAD request or a status without
// a body (1xx, 204, 304) leave the response unchanged.
type BodyReplacer struct {
	w    http.ResponseWriter
	ctx  *cel.Context
	prog *cel.Program
	max  int

	state replacerState
	code  int
	buf   bytes.Buffer
}

// NewBodyReplacer wraps w; call Finish once the upstream response is done.
// ctx must stay valid until Finish returns.
func NewBodyReplacer(w http.ResponseWriter, ctx *cel.Context, prog *cel.Program, max int) *BodyReplacer {
	return &BodyReplacer{w: w, ctx: ctx, prog: prog, max: max}
}

// Header implements http.ResponseWriter.
func (b *BodyReplacer) Header() http.Header { return b.w.Header() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (b *BodyReplacer) Unwrap() http.ResponseWriter { return b.w }

// WriteHeader implements http.ResponseWriter.
func (b *BodyReplacer) WriteHeader(code int) {
	if b.state != awaitingHead {
		if b.state == passing {
			b.w.WriteHeader(code) // net/http reports the superfluous call
		}
		return
	}
	if code < 200 {
		if code == http.StatusSwitchingProtocols {
			b.state = passing
		}
		b.w.WriteHeader(code)
		return
	}
	b.code = code
	b.responseInfo()
	switch {
	case !b.bodyAllowed():
		b.pass()
	case b.prog.Uses().ResponseBody:
		if n, err := strconv.ParseInt(b.w.Header().Get("Content-Length"), 10, 64); err == nil && n > int64(b.max) {
			b.pass() // known in advance not to fit
			return
		}
		b.state = buffering
	default:
		b.replaceWithResult()
	}
}

// responseInfo exposes the status and the headers as they are about to be
// sent (after the response header transformation) to the expression.
func (b *BodyReplacer) responseInfo() {
	if b.ctx.Response == nil {
		b.ctx.Response = &cel.ResponseInfo{}
	}
	b.ctx.Response.Code = b.code
	b.ctx.Response.Headers = b.w.Header()
}

func (b *BodyReplacer) bodyAllowed() bool {
	if b.code == http.StatusNoContent || b.code == http.StatusNotModified {
		return false
	}
	return b.ctx.Request == nil || b.ctx.Request.Method != http.MethodHead
}

func (b *BodyReplacer) pass() {
	b.state = passing
	b.w.WriteHeader(b.code)
}

// replaceWithResult evaluates the expression and writes the head and the
// new body, or, when it fails, the head and whatever was buffered.
func (b *BodyReplacer) replaceWithResult() {
	body, err := b.prog.EvalBody(b.ctx)
	if err != nil {
		b.pass()
		if b.buf.Len() > 0 {
			_, _ = b.w.Write(b.buf.Bytes())
		}
		return
	}
	h := b.w.Header()
	// The new body is neither encoded as the upstream's was nor the entity
	// the upstream's validators describe.
	h.Del("Content-Encoding")
	h.Del("Etag")
	h.Del("Trailer")
	h.Del("Transfer-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	b.state = replaced
	b.w.WriteHeader(b.code)
	_, _ = b.w.Write(body)
}

// Write implements http.ResponseWriter.
func (b *BodyReplacer) Write(p []byte) (int, error) {
	if b.state == awaitingHead {
		b.WriteHeader(http.StatusOK)
	}
	switch b.state {
	case replaced:
		return len(p), nil // the upstream body is dropped
	case buffering:
		if b.buf.Len()+len(p) <= b.max {
			return b.buf.Write(p)
		}
		// Over the cap: give up and stream what we have and the rest.
		b.pass()
		if _, err := b.w.Write(b.buf.Bytes()); err != nil {
			return 0, err
		}
		b.buf = bytes.Buffer{}
	}
	return b.w.Write(p)
}

// Flush forwards flushes only while the response streams through.
func (b *BodyReplacer) Flush() {
	if b.state == passing {
		_ = http.NewResponseController(b.w).Flush()
	}
}

// ReadFrom keeps io.Copy from bypassing Write.
func (b *BodyReplacer) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{b}, r)
}

// Finish completes a buffered replacement. It is a no-op otherwise.
func (b *BodyReplacer) Finish() {
	if b.state != buffering {
		return
	}
	b.ctx.Response.Body = b.buf.Bytes()
	b.ctx.Response.Size = int64(b.buf.Len())
	b.replaceWithResult()
	b.ctx.Response.Body = nil
}
