package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"

	"gatehouse.dev/gatehouse/internal/ir"
)

// StreamHandler serves one raw connection accepted on a layer-4 bind (TLS
// or TCP). It returns when the connection is done; the Manager closes conn
// afterwards. ctx ends when the bind is gone and its drain deadline passed
// (or on shutdown): the handler must then stop at once.
type StreamHandler func(ctx context.Context, bind *ir.Bind, conn net.Conn)

// streamSet is the Manager's layer-4 binds. They are served without
// net/http: each accepted connection goes to the stream handler.
type streamSet struct {
	handler StreamHandler
	servers map[string]*streamServer
}

// isStream reports whether a bind protocol is served as raw connections.
func isStream(p ir.Protocol) bool { return p == ir.ProtocolTLS || p == ir.ProtocolTCP }

// SetStreamHandler sets the handler for connections of TLS and TCP binds.
// Call it before the first Reconcile; without it such binds fail to open.
func (m *Manager) SetStreamHandler(h StreamHandler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.streams.handler = h
}

// closeStaleStreams removes the layer-4 binds from want and returns them,
// after draining open stream servers that are no longer wanted or whose
// socket changed (so a port changing protocol is free for its new server).
// Called with m.mu held.
func (m *Manager) closeStaleStreams(want map[string]*ir.Bind) map[string]*ir.Bind {
	out := map[string]*ir.Bind{}
	for name, b := range want {
		if isStream(b.Protocol) {
			out[name] = b
			delete(want, name)
		}
	}
	for name, s := range m.streams.servers {
		if b, ok := out[name]; ok && sameSocket(&s.bind, b) {
			continue
		}
		delete(m.streams.servers, name)
		m.drainStream(s)
	}
	return out
}

// openStreams opens the wanted layer-4 binds that are not open yet. Called
// with m.mu held.
func (m *Manager) openStreams(want map[string]*ir.Bind, errs map[string]error) {
	for name, b := range want {
		if _, open := m.streams.servers[name]; open {
			continue
		}
		if m.closed {
			errs[name] = fmt.Errorf("bind %s: listener manager is shut down", name)
			continue
		}
		if m.streams.handler == nil {
			errs[name] = fmt.Errorf("bind %s: protocol %s: no stream handler configured", name, b.Protocol)
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(b.Address, strconv.Itoa(int(b.Port))))
		if err != nil {
			m.log.Error("cannot open bind", "bind", name, "error", err)
			errs[name] = fmt.Errorf("bind %s: %w", name, err)
			continue
		}
		if m.streams.servers == nil {
			m.streams.servers = map[string]*streamServer{}
		}
		s := newStreamServer(*b, ln, m.streams.handler)
		m.streams.servers[name] = s
		s.wg.Add(1) // the accept loop; before any stop can Wait
		go s.serve(m)
		m.log.Info("bind opened", "bind", name, "protocol", b.Protocol, "addr", ln.Addr().String())
	}
}

// drainStream stops accepting on s now and lets its connections finish in
// the background for up to DrainTimeout. Called with m.mu held.
func (m *Manager) drainStream(s *streamServer) {
	_ = s.ln.Close()
	m.drainWG.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.DrainTimeout)
		defer cancel()
		s.stop(ctx)
		m.log.Info("bind closed", "bind", s.bind.Name)
	})
}

// shutdownStreams stops every layer-4 bind, waiting for connections until
// ctx ends and closing what is left then.
func (m *Manager) shutdownStreams(ctx context.Context) {
	m.mu.Lock()
	all := make([]*streamServer, 0, len(m.streams.servers))
	for name, s := range m.streams.servers {
		all = append(all, s)
		delete(m.streams.servers, name)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() { s.stop(ctx) })
	}
	wg.Wait()
}

// streamAddr returns the address of an open layer-4 bind. Called with m.mu
// held.
func (m *Manager) streamAddr(bind string) net.Addr {
	if s := m.streams.servers[bind]; s != nil {
		return s.ln.Addr()
	}
	return nil
}

// streamServer is one open layer-4 bind and its live connections.
type streamServer struct {
	bind    ir.Bind
	ln      net.Listener
	handler StreamHandler
	// ctx ends when the drain deadline passes: handlers stop at once.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup // accept loop and handlers
}

func newStreamServer(b ir.Bind, ln net.Listener, h StreamHandler) *streamServer {
	ctx, cancel := context.WithCancel(context.Background())
	return &streamServer{bind: b, ln: ln, handler: h, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
}

func (s *streamServer) serve(m *Manager) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.log.Error("bind stopped serving", "bind", s.bind.Name, "error", err)
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		if cs := m.opts.ConnState; cs != nil {
			cs(s.bind.Name, http.StateNew)
		}
		go func() {
			defer s.wg.Done()
			defer func() {
				_ = c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				if cs := m.opts.ConnState; cs != nil {
					cs(s.bind.Name, http.StateClosed)
				}
			}()
			s.handler(s.ctx, &s.bind, c)
		}()
	}
}

// stop closes the socket and waits for the connections to finish; when ctx
// ends first, the handlers are told to stop and the connections closed.
func (s *streamServer) stop(ctx context.Context) {
	_ = s.ln.Close()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.cancel()
}
