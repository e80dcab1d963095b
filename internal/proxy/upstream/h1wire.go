package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// The HTTP/1.1 wire format of the fast path: the request head is written
// straight from the inbound request (no outbound header map), and the
// response head is parsed into one byte block that becomes the client's
// response headers with two allocations.

// Limits on what an upstream may send in a response head.
const (
	maxResponseHeadBytes = 1 << 20
	maxResponseFields    = 1024
)

var (
	errObsFold        = errors.New("upstream response uses obsolete header line folding")
	errBadStatusLine  = errors.New("malformed upstream status line")
	errBadHeaderLine  = errors.New("malformed upstream header line")
	errHeadTooLarge   = errors.New("upstream response head is too large")
	errBadLength      = errors.New("invalid or conflicting Content-Length from upstream")
	errUnsupportedTE  = errors.New("unsupported Transfer-Encoding from upstream (only chunked is)")
	errInvalidRequest = errors.New("request header field cannot be forwarded (invalid name or value)")
)

// field is one header line of a response head: offsets into respHead.buf.
type field struct {
	k0, k1, v0, v1 int32
	hop            bool // hop-by-hop: not passed to the client
}

// respHead is a parsed response head. It is reused across responses on one
// upstream connection; copyTo hands its content to the client.
type respHead struct {
	status        int
	minor         int   // HTTP/1.minor
	contentLength int64 // -1 when absent
	chunked       bool
	close         bool  // the connection cannot be reused after this response
	keepAlive     bool  // "Connection: keep-alive" (for HTTP/1.0)
	conn          []int // indices of Connection fields
	buf           []byte
	fields        []field
}

func (h *respHead) reset() {
	h.status, h.minor, h.contentLength = 0, 0, -1
	h.chunked, h.close, h.keepAlive = false, false, false
	h.conn, h.buf, h.fields = h.conn[:0], h.buf[:0], h.fields[:0]
}

// readLine appends one line (without its line ending) to h.buf and returns
// its start offset. Lines longer than br's buffer are assembled.
func (h *respHead) readLine(br *bufio.Reader) (int, error) {
	start := len(h.buf)
	for {
		part, err := br.ReadSlice('\n')
		if len(h.buf)+len(part) > maxResponseHeadBytes {
			return 0, errHeadTooLarge
		}
		h.buf = append(h.buf, part...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			return 0, err
		}
	}
	h.buf = h.buf[:len(h.buf)-1] // '\n'
	if n := len(h.buf); n > start && h.buf[n-1] == '\r' {
		h.buf = h.buf[:n-1]
	}
	return start, nil
}

// readResponseHead reads a status line and header fields from br.
func readResponseHead(br *bufio.Reader, h *respHead) error {
	h.reset()
	start, err := h.readLine(br)
	if err != nil {
		return err
	}
	if err := h.parseStatusLine(h.buf[start:]); err != nil {
		return err
	}
	h.buf = h.buf[:0] // the block holds fields only
	if err := h.readFields(br, true); err != nil {
		return err
	}
	h.finish()
	if h.minor == 0 && !h.keepAlive {
		h.close = true
	}
	return nil
}

func (h *respHead) parseStatusLine(l []byte) error {
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(l) < 12 || string(l[:7]) != "HTTP/1." || l[7] < '0' || l[7] > '9' || l[8] != ' ' {
		return errBadStatusLine
	}
	code := l[9:12]
	if len(l) > 12 && l[12] != ' ' {
		return errBadStatusLine
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return errBadStatusLine
		}
	}
	h.minor = int(l[7] - '0')
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if h.status < 100 {
		return errBadStatusLine
	}
	return nil
}

// readFields reads header (or trailer) lines up to the empty line. With
// framing, Content-Length, Transfer-Encoding and Connection are interpreted.
func (h *respHead) readFields(br *bufio.Reader, framing bool) error {
	for {
		start, err := h.readLine(br)
		if err != nil {
			return err
		}
		line := h.buf[start:]
		if len(line) == 0 {
			h.buf = h.buf[:start]
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errObsFold
		}
		if len(h.fields) >= maxResponseFields {
			return errHeadTooLarge
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(line[:colon]) {
			return errBadHeaderLine
		}
		v0, v1 := colon+1, len(line)
		for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
			v0++
		}
		for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
			v1--
		}
		if !validFieldValue(line[v0:v1]) {
			return errBadHeaderLine
		}
		f := field{k0: int32(start), k1: int32(start + colon), v0: int32(start + v0), v1: int32(start + v1)}
		if framing {
			if err := h.interpret(&f, line[:colon], line[v0:v1]); err != nil {
				return err
			}
		}
		h.fields = append(h.fields, f)
	}
}

// interpret applies the fields that frame the message and marks hop-by-hop
// ones.
func (h *respHead) interpret(f *field, name, value []byte) error {
	switch {
	case asciiEqualFold(name, "Content-Length"):
		n, err := parseContentLength(value)
		if err != nil || h.contentLength >= 0 && h.contentLength != n {
			return errBadLength
		}
		h.contentLength = n
	case asciiEqualFold(name, "Transfer-Encoding"):
		if h.chunked || !asciiEqualFold(value, "chunked") {
			return errUnsupportedTE
		}
		h.chunked, f.hop = true, true
	case asciiEqualFold(name, "Connection"):
		f.hop = true
		h.conn = append(h.conn, len(h.fields))
		for rest := value; len(rest) > 0; {
			var tok []byte
			tok, rest = nextToken(rest)
			switch {
			case asciiEqualFold(tok, "close"):
				h.close = true
			case asciiEqualFold(tok, "keep-alive"):
				h.keepAlive = true
			}
		}
	case isHopByHop(name):
		f.hop = true
	}
	return nil
}

// finish settles framing once all fields are known: with chunked the
// Content-Length is ignored (and the connection not reused, RFC 9112 6.3),
// and fields named by Connection are hop-by-hop.
func (h *respHead) finish() {
	if h.chunked && h.contentLength >= 0 {
		h.contentLength = -1
		h.close = true
		for i := range h.fields {
			if asciiEqualFold(h.name(i), "Content-Length") {
				h.fields[i].hop = true
			}
		}
	}
	for _, ci := range h.conn {
		f := h.fields[ci]
		for rest := h.buf[f.v0:f.v1]; len(rest) > 0; {
			var tok []byte
			tok, rest = nextToken(rest)
			if len(tok) == 0 || asciiEqualFold(tok, "close") || asciiEqualFold(tok, "keep-alive") {
				continue
			}
			for i := range h.fields {
				if asciiEqualFold(h.name(i), tok) {
					h.fields[i].hop = true
				}
			}
		}
	}
}

// nextToken splits the first comma-separated element off v, trimmed of
// optional whitespace.
func nextToken[T []byte | string](v T) (tok, rest T) {
	i := 0
	for i < len(v) && v[i] != ',' {
		i++
	}
	tok, rest = v[:i], v[min(i+1, len(v)):]
	for len(tok) > 0 && (tok[0] == ' ' || tok[0] == '\t') {
		tok = tok[1:]
	}
	for len(tok) > 0 && (tok[len(tok)-1] == ' ' || tok[len(tok)-1] == '\t') {
		tok = tok[:len(tok)-1]
	}
	return tok, rest
}

func (h *respHead) name(i int) []byte { return h.buf[h.fields[i].k0:h.fields[i].k1] }

// copyTo adds the end-to-end fields to dst, each name canonicalized. One
// string holds every name and value and one slice every value, so a response
// head costs two allocations however many fields it has. prefix is put
// before every name (http.TrailerPrefix for trailers).
func (h *respHead) copyTo(dst http.Header, prefix string) {
	if len(h.fields) == 0 {
		return
	}
	block := string(h.buf)
	vals := make([]string, len(h.fields))
	for i, f := range h.fields {
		if f.hop {
			continue
		}
		key := http.CanonicalHeaderKey(block[f.k0:f.k1])
		if prefix != "" {
			key = prefix + key
		}
		vals[i] = block[f.v0:f.v1]
		if prev, ok := dst[key]; ok {
			dst[key] = append(prev, vals[i])
			continue
		}
		dst[key] = vals[i : i+1 : i+1]
	}
}

// hasBody reports whether a response to method with this head carries a
// body (RFC 9112 6.3).
func (h *respHead) hasBody(method string) bool {
	return method != http.MethodHead && h.status >= 200 && h.status != 204 && h.status != 304
}

func parseContentLength(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 18 {
		return 0, errBadLength
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errBadLength
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// hopByHop are the hop-by-hop fields of RFC 9110 7.6.1 and the ones
// httputil.ReverseProxy also drops. Transfer-Encoding and Connection are
// handled on their own; Trailer is passed on, announcing the trailers.
var hopByHop = []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Upgrade"}

func isHopByHop[T []byte | string](name T) bool {
	for _, h := range hopByHop {
		if asciiEqualFold(name, h) {
			return true
		}
	}
	return false
}

func asciiEqualFold[T, U []byte | string](b T, s U) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// validFieldName reports whether b is an RFC 9110 token.
func validFieldName[T []byte | string](b T) bool {
	if len(b) == 0 {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

// validFieldValue rejects control characters other than HTAB, and DEL.
func validFieldValue[T []byte | string](b T) bool {
	for i := range len(b) {
		if c := b[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-32] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// requestHead describes the outbound request head beyond the inbound
// request: where it goes and what the proxy adds.
type requestHead struct {
	addr          string // endpoint host:port, the Host when the request has none
	proto         string // X-Forwarded-Proto
	contentLength int64
}

// writeRequestHead writes req's request line and header fields to bw: the
// inbound fields minus hop-by-hop ones, those named by Connection, and the
// client's forwarding headers; then Host, X-Forwarded-For/-Host/-Proto from
// this hop (the client's are not trusted) and the body framing.
func writeRequestHead(bw *bufio.Writer, req *http.Request, rh *requestHead) error {
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	if p := req.URL.EscapedPath(); p != "" {
		bw.WriteString(p)
	} else {
		bw.WriteByte('/')
	}
	if req.URL.RawQuery != "" || req.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(req.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := req.Host
	if host == "" {
		host = rh.addr
	}
	if !validFieldValue(host) {
		return errInvalidRequest
	}
	bw.WriteString(host)
	bw.WriteString("\r\n")
	conn := req.Header["Connection"]
	for k, vs := range req.Header {
		if skipRequestField(k, conn) {
			if asciiEqualFold(k, "Te") && headerHasToken(vs, "trailers") {
				bw.WriteString("Te: trailers\r\n")
			}
			continue
		}
		if !validFieldName(k) {
			return errInvalidRequest
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				return errInvalidRequest
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	writeForwarded(bw, req, host, rh.proto)
	switch {
	case rh.contentLength > 0, rh.contentLength == 0 && req.Method != http.MethodGet && req.Method != http.MethodHead:
		// Like net/http's client: a zero length is announced except for
		// GET and HEAD.
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), rh.contentLength, 10))
		bw.WriteString("\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

func writeForwarded(bw *bufio.Writer, req *http.Request, host, proto string) {
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil && validFieldValue(ip) {
		bw.WriteString("X-Forwarded-For: ")
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(host)
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	bw.WriteString(proto)
	bw.WriteString("\r\n")
}

// skipRequestField reports whether inbound field k is not forwarded as is.
func skipRequestField(k string, conn []string) bool {
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Trailer",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Http2-Settings":
		// Http2-Settings belongs to an h2c upgrade offer, which is for
		// this hop only (Upgrade is dropped below).
		return true
	}
	return isHopByHop(k) || len(conn) > 0 && headerHasToken(conn, k)
}

// headerHasToken reports whether the comma-separated values hold token
// (case-insensitive), without allocating.
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v = nextToken(v)
			if asciiEqualFold(tok, token) {
				return true
			}
		}
	}
	return false
}

// chunkedTrailers reads the trailer section after a chunked body's last
// chunk into h (names and values checked, nothing interpreted).
func chunkedTrailers(br *bufio.Reader, h *respHead) error {
	h.reset()
	if err := h.readFields(br, false); err != nil {
		return fmt.Errorf("trailers: %w", err)
	}
	return nil
}
