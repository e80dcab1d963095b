package upstream

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// flakyUpstream fails its first failN requests (with status, or with a
// connection reset when status is 0) and then answers 200 with the request
// body it read. It records every request's arrival time and body.
type flakyUpstream struct {
	failN  int
	status int

	mu     sync.Mutex
	times  []time.Time
	bodies []string
}

func (f *flakyUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.times)
	f.times = append(f.times, time.Now())
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	switch {
	case n >= f.failN:
		_, _ = w.Write(body)
	case f.status != 0:
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, "failure")
	default:
		resetConnection(w)
	}
}

func (f *flakyUpstream) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.times)
}

// resetConnection aborts the request's connection with a TCP RST.
func resetConnection(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// forwardingModes runs f on the fast path and on the ReverseProxy path.
func forwardingModes(t *testing.T, f func(t *testing.T, o Options)) {
	t.Run("fast", func(t *testing.T) { f(t, Options{}) })
	t.Run("reverseproxy", func(t *testing.T) { f(t, Options{ReverseProxyOnly: true}) })
}

// retryFrontend forwards to one flaky upstream with the given retry policy.
func retryFrontend(t *testing.T, o Options, up http.Handler, retry *ir.Retry, timeout time.Duration) string {
	t.Helper()
	reg := newTestRegistry(t, o)
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, startUpstream(t, up).URL, true)))
	return frontend(t, reg, Target{Backend: "svc", Retry: retry, Timeout: timeout}).URL
}

func TestRetryStatusCodes(t *testing.T) {
	tests := []struct {
		name      string
		retry     ir.Retry
		failN     int
		status    int
		wantCode  int
		wantTries int
	}{
		{"succeeds within attempts", ir.Retry{Codes: []int{500}, Attempts: 3}, 2, 500, 200, 3},
		{"attempts exhausted returns the last answer", ir.Retry{Codes: []int{500}, Attempts: 3}, 4, 500, 500, 4},
		{"status not listed is not retried", ir.Retry{Codes: []int{500}, Attempts: 3}, 2, 503, 503, 1},
		{"4xx may be listed", ir.Retry{Codes: []int{429}, Attempts: 1}, 1, 429, 200, 2},
		{"no codes retries no status", ir.Retry{Attempts: 2}, 1, 500, 500, 1},
	}
	forwardingModes(t, func(t *testing.T, o Options) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				up := &flakyUpstream{failN: tc.failN, status: tc.status}
				url := retryFrontend(t, o, up, &tc.retry, 0)
				code, body, _ := get(t, newClient(t), url, nil)
				if code != tc.wantCode || up.count() != tc.wantTries {
					t.Fatalf("got %d after %d tries, want %d after %d", code, up.count(), tc.wantCode, tc.wantTries)
				}
				if code != 200 && body != "failure" {
					t.Errorf("body %q: the last upstream answer should be passed on", body)
				}
			})
		}
	})
}

func TestRetryConnectionReset(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		up := &flakyUpstream{failN: 2}
		url := retryFrontend(t, o, up, &ir.Retry{Attempts: 2}, 0)
		if code, _, _ := get(t, newClient(t), url, nil); code != 200 || up.count() != 3 {
			t.Fatalf("got %d after %d tries, want 200 after 3", code, up.count())
		}
		up = &flakyUpstream{failN: 5}
		url = retryFrontend(t, o, up, &ir.Retry{Attempts: 2}, 0)
		if code, _, _ := get(t, newClient(t), url, nil); code != 502 || up.count() != 3 {
			t.Fatalf("got %d after %d tries, want 502 after 3", code, up.count())
		}
	})
}

func TestRetryWithoutPolicyTriesOnce(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		up := &flakyUpstream{failN: 1}
		url := retryFrontend(t, o, up, nil, 0)
		if code, _, _ := get(t, newClient(t), url, nil); code != 502 || up.count() != 1 {
			t.Fatalf("got %d after %d tries, want 502 after 1", code, up.count())
		}
	})
}

func TestRetryPrefersUntriedEndpoint(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		reg := newTestRegistry(t, o)
		live := &flakyUpstream{}
		var eps []ir.Endpoint
		eps = append(eps, endpointOf(t, closedAddr(t), true))
		eps = append(eps, endpointOf(t, startUpstream(t, live).URL, true))
		mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, eps...))
		url := frontend(t, reg, Target{Backend: "svc", Retry: &ir.Retry{Attempts: 1}}).URL
		c := newClient(t)
		for i := range 20 {
			if code, _, _ := get(t, c, url, nil); code != 200 {
				t.Fatalf("request %d: got %d; the retry should go to the live endpoint", i, code)
			}
		}
		if live.count() != 20 {
			t.Fatalf("live endpoint saw %d requests, want 20", live.count())
		}
	})
}

func TestRetryReplaysBody(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		for _, size := range []int{1 << 10, 48 << 10, maxRetryBody} {
			for _, chunked := range []bool{false, true} {
				up := &flakyUpstream{failN: 2, status: 503}
				url := retryFrontend(t, o, up, &ir.Retry{Codes: []int{503}, Attempts: 2}, 0)
				want := strings.Repeat("x", size)
				var body io.Reader = strings.NewReader(want)
				if chunked {
					body = io.MultiReader(body) // hides the length: sent chunked
				}
				res, err := newClient(t).Post(url, "text/plain", body)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || string(got) != want || up.count() != 3 {
					t.Fatalf("size %d chunked %v: got %d, %d bytes back after %d tries", size, chunked, res.StatusCode, len(got), up.count())
				}
				for i, b := range up.bodies {
					if b != want {
						t.Fatalf("size %d chunked %v: try %d got %d bytes", size, chunked, i, len(b))
					}
				}
			}
		}
	})
}

func TestRetryNotForLargeBody(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		for _, chunked := range []bool{false, true} {
			up := &flakyUpstream{failN: 1, status: 503}
			url := retryFrontend(t, o, up, &ir.Retry{Codes: []int{503}, Attempts: 2}, 0)
			want := strings.Repeat("y", maxRetryBody+1)
			var body io.Reader = strings.NewReader(want)
			if chunked {
				body = io.MultiReader(body)
			}
			res, err := newClient(t).Post(url, "text/plain", body)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 503 || up.count() != 1 {
				t.Fatalf("chunked %v: got %d after %d tries, want 503 after 1", chunked, res.StatusCode, up.count())
			}
			if up.bodies[0] != want {
				t.Fatalf("chunked %v: the one try got %d bytes, want %d", chunked, len(up.bodies[0]), len(want))
			}
		}
	})
}

func TestRetryNeverAfterResponseStarted(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		var tries atomic.Int32
		up := startRawUpstream(t, true, func(*http.Request) string {
			tries.Add(1)
			return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
		})
		reg := newTestRegistry(t, o)
		mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, up.endpoint(t)))
		url := frontend(t, reg, Target{Backend: "svc", Retry: &ir.Retry{Codes: []int{500, 502}, Attempts: 3}}).URL
		res, err := newClient(t).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || err == nil {
			t.Fatalf("got %d, body error %v: want 200 and a broken body", res.StatusCode, err)
		}
		if n := tries.Load(); n != 1 {
			t.Fatalf("%d tries after the response started, want 1", n)
		}
	})
}

func TestRetryBackoff(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		const base = 100 * time.Millisecond
		up := &flakyUpstream{failN: 3, status: 503}
		url := retryFrontend(t, o, up, &ir.Retry{Codes: []int{503}, Attempts: 2, Backoff: base}, 0)
		if code, _, _ := get(t, newClient(t), url, nil); code != 503 || up.count() != 3 {
			t.Fatalf("got %d after %d tries, want 503 after 3", code, up.count())
		}
		// The minimum waits are guaranteed; only a generous bound above.
		for i, want := range []time.Duration{base, 2 * base} {
			gap := up.times[i+1].Sub(up.times[i])
			if gap < want || gap > want+5*time.Second {
				t.Errorf("wait before retry %d: %v, want at least %v", i, gap, want)
			}
		}
	})
}

func TestRetryWithinRequestTimeout(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		// The backoff would outlast the request deadline: the first answer
		// is returned at once instead of a timeout later.
		up := &flakyUpstream{failN: 5, status: 503}
		reg := newTestRegistry(t, o)
		mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, startUpstream(t, up).URL, true)))
		tgt := Target{Backend: "svc", Retry: &ir.Retry{Codes: []int{503}, Attempts: 3, Backoff: time.Minute}}
		front := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			defer cancel()
			reg.Forward(w, r.WithContext(ctx), tgt)
		}))
		if code, _, _ := get(t, newClient(t), front.URL, nil); code != 503 || up.count() != 1 {
			t.Fatalf("got %d after %d tries, want 503 after 1", code, up.count())
		}
	})
}

func TestRetryAfterPerTryTimeout(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		var tries atomic.Int32
		up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tries.Add(1) == 1 {
				<-r.Context().Done() // the per-try timeout ends this try
				return
			}
			_, _ = io.WriteString(w, "ok")
		})
		url := retryFrontend(t, o, up, &ir.Retry{Attempts: 1}, 200*time.Millisecond)
		if code, body, _ := get(t, newClient(t), url, nil); code != 200 || body != "ok" || tries.Load() != 2 {
			t.Fatalf("got %d %q after %d tries, want 200 after 2", code, body, tries.Load())
		}
	})
}

func TestRetryExpectContinueBody(t *testing.T) {
	forwardingModes(t, func(t *testing.T, o Options) {
		var expects []string
		var mu sync.Mutex
		up := &flakyUpstream{failN: 1, status: 503}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			expects = append(expects, r.Header.Get("Expect"))
			mu.Unlock()
			up.ServeHTTP(w, r)
		})
		url := retryFrontend(t, o, h, &ir.Retry{Codes: []int{503}, Attempts: 1}, 0)
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader("data"))
		req.Header.Set("Expect", "100-continue")
		res, err := newClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "data" || up.count() != 2 {
			t.Fatalf("got %d %q after %d tries, want 200 \"data\" after 2", res.StatusCode, b, up.count())
		}
		for i, e := range expects {
			if e != "" {
				t.Errorf("try %d carried Expect %q; the body was already read", i, e)
			}
		}
	})
}

func TestRetryClientBodyUnreadable(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	up := &flakyUpstream{}
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, startUpstream(t, up).URL, true)))
	req, _ := http.NewRequest(http.MethodPost, "http://gw/", io.MultiReader(strings.NewReader("ab"), errReader{}))
	req.ContentLength = 10
	w := &benchWriter{h: http.Header{}}
	reg.Forward(w, req, Target{Backend: "svc", Retry: &ir.Retry{Attempts: 1}})
	if w.code != http.StatusBadRequest || up.count() != 0 {
		t.Fatalf("got %d with %d upstream requests, want 400 and none", w.code, up.count())
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestBackoffBounds(t *testing.T) {
	const base = 100 * time.Millisecond
	for n, lo := range []time.Duration{base, 2 * base, 4 * base, 8 * base, 10 * base, 10 * base} {
		for range 50 {
			if d := backoff(base, n); d < lo || d > lo+lo/4 {
				t.Fatalf("backoff(%v, %d) = %v, want in [%v, %v]", base, n, d, lo, lo+lo/4)
			}
		}
	}
	if d := backoff(0, 3); d != 0 {
		t.Fatalf("backoff(0, 3) = %v, want 0", d)
	}
	if d := backoff(1<<62, 40); d <= 0 {
		t.Fatalf("backoff of a huge base overflowed: %v", d)
	}
}

func TestRetryStateRequestCopies(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPut, "http://gw/", bytes.NewReader([]byte("payload")))
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	s, err := newRetryState(&ir.Retry{Attempts: 1}, req)
	if err != nil || !s.replayable {
		t.Fatalf("newRetryState: %v, replayable %v", err, s.replayable)
	}
	for i := range 2 {
		out := s.request(req)
		b, _ := io.ReadAll(out.Body)
		if string(b) != "payload" || out.ContentLength != 7 || out.TransferEncoding != nil || out == req {
			t.Fatalf("try %d: body %q length %d coding %v", i, b, out.ContentLength, out.TransferEncoding)
		}
	}
}

// BenchmarkForwardWithRetryPolicy is BenchmarkForward on a route with
// retries whose requests all succeed: compare in the same run to see what
// the retry policy costs when nothing is retried.
func BenchmarkForwardWithRetryPolicy(b *testing.B) {
	benchForwardTo(b, Options{}, http.MethodGet, nil, Target{Retry: &ir.Retry{Codes: []int{503}, Attempts: 2}})
}

// BenchmarkForwardPost2KWithRetryPolicy is BenchmarkForwardPost2K on a
// route with retries (the body is buffered for a possible replay).
func BenchmarkForwardPost2KWithRetryPolicy(b *testing.B) {
	benchForwardTo(b, Options{}, http.MethodPost, bytes.Repeat([]byte("x"), 2048),
		Target{Retry: &ir.Retry{Codes: []int{503}, Attempts: 2}})
}
