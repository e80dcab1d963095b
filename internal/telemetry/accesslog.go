package telemetry

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/l4"
)

// AccessLogOptions configures the access log.
type AccessLogOptions struct {
	// Output receives one JSON object per line (os.Stdout in the commands).
	Output io.Writer
	// Fields are built-in field names (see BuiltinFields) and CEL fields
	// written "name=expression". Empty means every built-in field; the
	// entry "default" also stands for every built-in field.
	Fields []string
	// Filter is a CEL expression returning bool; a request is logged only
	// when it is true. Empty logs every request.
	Filter string
	// Sample is the fraction of requests logged, in (0, 1]; 0 means 1.
	Sample float64
}

// builtinField is one field the log can write without CEL.
type builtinField struct {
	name string
	doc  string
	// write appends the JSON value; it returns false to omit the field.
	write func(b []byte, e *logEntry) ([]byte, bool)
}

// logEntry is what a built-in field reads.
type logEntry struct {
	info *proxy.RequestInfo
	st   *requestState
}

// BuiltinFields lists the built-in field names with their meaning, in the
// order they are written.
func BuiltinFields() [][2]string {
	out := make([][2]string, len(builtins))
	for i, f := range builtins {
		out[i] = [2]string{f.name, f.doc}
	}
	return out
}

func strField(get func(e *logEntry) string) func([]byte, *logEntry) ([]byte, bool) {
	return func(b []byte, e *logEntry) ([]byte, bool) {
		s := get(e)
		if s == "" {
			return b, false
		}
		return appendJSONString(b, s), true
	}
}

var builtins = []builtinField{
	{"time", "start of the request, RFC 3339 with nanoseconds, UTC", func(b []byte, e *logEntry) ([]byte, bool) {
		b = append(b, '"')
		b = e.info.Start.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), true
	}},
	{"method", "request method", strField(func(e *logEntry) string { return e.info.Request.Method })},
	{"host", "request Host header", strField(func(e *logEntry) string { return e.info.Request.Host })},
	{"path", "request path (without the query)", strField(func(e *logEntry) string { return e.info.Request.URL.Path })},
	{"protocol", "HTTP version, e.g. HTTP/1.1", strField(func(e *logEntry) string { return e.info.Request.Proto })},
	{"status", "response status code (0 when nothing was written)", func(b []byte, e *logEntry) ([]byte, bool) {
		return strconv.AppendInt(b, int64(e.info.Status), 10), true
	}},
	{"duration_ms", "time to the end of the response, in milliseconds (float)", func(b []byte, e *logEntry) ([]byte, bool) {
		return strconv.AppendFloat(b, float64(e.info.Duration.Microseconds())/1000, 'f', -1, 64), true
	}},
	{"bytes_sent", "response body bytes written", func(b []byte, e *logEntry) ([]byte, bool) {
		return strconv.AppendInt(b, e.info.BytesWritten, 10), true
	}},
	{"bytes_received", "request body bytes read", func(b []byte, e *logEntry) ([]byte, bool) {
		var n int64
		if e.st != nil {
			n = e.st.bodyBytes()
		}
		return strconv.AppendInt(b, n, 10), true
	}},
	{"gateway", "Gateway namespace/name (omitted when no listener matched)", strField(func(e *logEntry) string { return e.info.Gateway })},
	{"listener", "listener namespace/gateway/name", strField(func(e *logEntry) string { return e.info.Listener })},
	{"route", "HTTPRoute namespace/name", strField(func(e *logEntry) string { return routeLabel(e.info.Route) })},
	{"rule", "matched rule, namespace/httproute/index", strField(func(e *logEntry) string { return e.info.Route })},
	{"backend", "backend picked, Kind/namespace/name", strField(func(e *logEntry) string { return e.info.Backend })},
	{"client_address", "downstream peer address, host:port", strField(func(e *logEntry) string { return e.info.Request.RemoteAddr })},
	{"user_agent", "User-Agent header", strField(func(e *logEntry) string { return e.info.Request.UserAgent() })},
	{"request_id", "X-Request-Id header, when the client or a filter set one", strField(func(e *logEntry) string {
		return e.info.Request.Header.Get("X-Request-Id")
	})},
	{"trace_id", "W3C trace id, when tracing is enabled", strField(func(e *logEntry) string {
		if e.st == nil || e.st.span == nil {
			return ""
		}
		return e.st.span.SpanContext().TraceID().String()
	})},
}

// AccessLog writes one JSON line per (sampled, filtered) request.
type AccessLog struct {
	out     io.Writer
	mu      sync.Mutex
	fields  []builtinField
	celName []string
	celProg []*cel.Program
	filter  *cel.Program
	sample  float64
	ctxs    sync.Pool
	bufs    sync.Pool
}

// NewAccessLog compiles the configuration. Errors name the field or the
// filter and carry CEL's message with the position.
func NewAccessLog(o AccessLogOptions) (*AccessLog, error) {
	if o.Output == nil {
		return nil, fmt.Errorf("access log: no output")
	}
	if o.Sample < 0 || o.Sample > 1 {
		return nil, fmt.Errorf("access log sample %v: must be between 0 and 1", o.Sample)
	}
	if o.Sample == 0 {
		o.Sample = 1
	}
	l := &AccessLog{out: o.Output, sample: o.Sample}
	l.ctxs.New = func() any { return new(cel.Context) }
	l.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	var env *cel.Env
	compile := func(expr string, t cel.OutputType) (*cel.Program, error) {
		if env == nil {
			var err error
			if env, err = cel.NewEnv(); err != nil {
				return nil, err
			}
		}
		return env.Compile(expr, t)
	}
	fields := o.Fields
	if len(fields) == 0 {
		fields = []string{"default"}
	}
	for _, f := range fields {
		if name, expr, ok := strings.Cut(f, "="); ok {
			name = strings.TrimSpace(name)
			if name == "" {
				return nil, fmt.Errorf("access log field %q: a CEL field is written name=expression", f)
			}
			p, err := compile(expr, cel.AnyType)
			if err != nil {
				return nil, fmt.Errorf("access log field %s: %w", name, err)
			}
			l.celName, l.celProg = append(l.celName, name), append(l.celProg, p)
			continue
		}
		if err := l.addBuiltin(strings.TrimSpace(f)); err != nil {
			return nil, err
		}
	}
	if o.Filter != "" {
		p, err := compile(o.Filter, cel.BoolType)
		if err != nil {
			return nil, fmt.Errorf("access log filter: %w", err)
		}
		l.filter = p
	}
	return l, nil
}

func (l *AccessLog) addBuiltin(name string) error {
	if name == "default" {
		l.fields = append(l.fields, builtins...)
		return nil
	}
	for _, f := range builtins {
		if f.name == name {
			l.fields = append(l.fields, f)
			return nil
		}
	}
	known := make([]string, len(builtins))
	for i, f := range builtins {
		known[i] = f.name
	}
	return fmt.Errorf("access log field %q: not a built-in field (%s) nor name=CEL", name, strings.Join(known, ", "))
}

// sampled decides, when the request arrives, whether it may be logged.
func (l *AccessLog) sampled() bool {
	return l.sample >= 1 || rand.Float64() < l.sample
}

// needsCEL reports whether End must build a CEL context.
func (l *AccessLog) needsCEL() bool { return l.filter != nil || len(l.celProg) > 0 }

var anyType = reflect.TypeFor[any]()

// log writes the line of one finished request.
func (l *AccessLog) log(info *proxy.RequestInfo, st *requestState) {
	var cx *cel.Context
	if l.needsCEL() {
		cx = l.ctxs.Get().(*cel.Context)
		defer func() { cx.Reset(); l.ctxs.Put(cx) }()
		fillCELContext(cx, info)
		if l.filter != nil {
			// A filter that fails to evaluate logs the line: losing a log
			// line silently is worse than an extra one.
			if keep, err := l.filter.EvalBool(cx); err == nil && !keep {
				return
			}
		}
	}
	bp := l.bufs.Get().(*[]byte)
	b := append((*bp)[:0], '{')
	e := logEntry{info: info, st: st}
	first := true
	for _, f := range l.fields {
		mark := len(b)
		if !first {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.name)
		b = append(b, ':')
		var ok bool
		if b, ok = f.write(b, &e); !ok {
			b = b[:mark]
			continue
		}
		first = false
	}
	for i, p := range l.celProg {
		v, err := p.Eval(cx)
		if err != nil {
			continue // a failing field is omitted, like TrafficPolicy access logs
		}
		native, err := v.ConvertToNative(anyType)
		if err != nil {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		b = appendJSONString(b, l.celName[i])
		b = append(b, ':')
		b = appendJSONValue(b, native)
		first = false
	}
	b = append(b, '}', '\n')
	l.mu.Lock()
	_, _ = l.out.Write(b)
	l.mu.Unlock()
	*bp = b
	l.bufs.Put(bp)
}

// logConn writes the line of one finished TLS or TCP listener connection.
// Its fields are fixed (the configured fields and the filter read
// requests, which these connections do not have); empty ones are omitted.
func (l *AccessLog) logConn(info *l4.ConnInfo) {
	bp := l.bufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":`...)
	b = appendJSONString(b, info.Start.UTC().Format(time.RFC3339Nano))
	for _, f := range [...][2]string{
		{"protocol", string(info.Protocol)}, {"server_name", info.ServerName}, {"client", info.Remote},
		{"bind", info.Bind}, {"gateway", info.Gateway}, {"listener", info.Listener}, {"route", info.Route},
		{"backend", info.Backend}, {"outcome", info.Outcome},
	} {
		if f[1] != "" {
			b = append(b, ',')
			b = appendJSONString(b, f[0])
			b = append(b, ':')
			b = appendJSONString(b, f[1])
		}
	}
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(info.Duration.Microseconds())/1000, 'f', -1, 64)
	b = append(b, `,"bytes_received":`...)
	b = strconv.AppendInt(b, info.BytesReceived, 10)
	b = append(b, `,"bytes_sent":`...)
	b = strconv.AppendInt(b, info.BytesSent, 10)
	if info.Err != nil {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, info.Err.Error())
	}
	b = append(b, '}', '\n')
	l.mu.Lock()
	_, _ = l.out.Write(b)
	l.mu.Unlock()
	*bp = b
	l.bufs.Put(bp)
}

// fillCELContext exposes a finished request to CEL: the same variables a
// TrafficPolicy access log sees.
func fillCELContext(cx *cel.Context, info *proxy.RequestInfo) {
	r := info.Request
	cx.Request, cx.Start = r, info.Start
	cx.Response = &cel.ResponseInfo{Code: info.Status, Size: info.BytesWritten, Duration: info.Duration}
	cx.Gateway, cx.Listener, cx.Route = info.Gateway, info.Listener, routeLabel(info.Route)
	cx.Backend.Name = info.Backend
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		cx.Source.Address = host
		cx.Source.Port, _ = strconv.Atoi(port)
	}
}
