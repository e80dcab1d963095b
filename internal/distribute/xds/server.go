package xds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/distribute/wire"
	"gatehouse.dev/gatehouse/internal/ir"
)

// StreamTypeURL is the type_url of every request and response on a Gatehouse
// stream. One stream carries all IR kinds; each resource's Any names its own.
const StreamTypeURL = "type.googleapis.com/gatehouse.ir.v1.Resource"

// GatewayMetadataKey is the node.metadata field naming the proxy's Gateway.
const GatewayMetadataKey = "gateway"

// Options configures a Server.
type Options struct {
	// Hub is the source of configuration. Required.
	Hub *distribute.Hub
	// Authenticator checks each stream's bearer token. Required.
	Authenticator Authenticator
	// Authorizer decides which Gateway an identity may read; DefaultAuthorizer
	// when nil.
	Authorizer Authorizer
	// Debounce is the quiet period that ends a burst (default 10ms, negative
	// disables): a change on an idle stream is sent at once, changes that
	// follow a response within Debounce are collected until Debounce passes
	// without a new one. MaxDebounce caps that wait (default 1s).
	Debounce, MaxDebounce time.Duration
	// MaxConcurrentSends bounds how many responses are converted and sent at
	// once across all streams (default 8), so a burst of reconnecting proxies
	// cannot exhaust CPU and memory.
	MaxConcurrentSends int
	Logger             *slog.Logger
	// OnPush, when set, is called after each response is answered (metrics).
	OnPush func(Push)
}

// ProxyStatus describes one connected proxy, for the admin page.
type ProxyStatus struct {
	// Node is the proxy's node.id (its pod name).
	Node string `json:"node"`
	// Gateway is the "namespace/name" it subscribed to.
	Gateway string `json:"gateway"`
	// Identity is who its token authenticated as.
	Identity string `json:"identity"`
	// VersionSent is the hub version of the last response sent.
	VersionSent uint64 `json:"versionSent"`
	// VersionAcked is the version of the last response the proxy answered.
	VersionAcked uint64 `json:"versionAcked"`
	// Rejections are the reasons of the last NACK; empty after an ACK.
	Rejections []ir.Rejection `json:"rejections,omitempty"`
	// ConnectedSince is when the stream was accepted.
	ConnectedSince time.Time `json:"connectedSince"`
	// Responses and BytesSent count what was sent on the stream.
	Responses uint64 `json:"responses"`
	BytesSent uint64 `json:"bytesSent"`
}

// Server implements the delta ADS service over a Hub.
type Server struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer

	opts  Options
	log   *slog.Logger
	sends chan struct{} // semaphore bounding concurrent sends
	nonce atomic.Uint64

	mu      sync.Mutex
	streams map[*stream]struct{}
}

// NewServer returns a Server; register it with Register.
func NewServer(o Options) (*Server, error) {
	if o.Hub == nil || o.Authenticator == nil {
		return nil, errors.New("xds: Options.Hub and Options.Authenticator are required")
	}
	if o.Authorizer == nil {
		o.Authorizer = DefaultAuthorizer
	}
	switch {
	case o.Debounce == 0:
		o.Debounce = 10 * time.Millisecond
	case o.Debounce < 0:
		o.Debounce = 0
	}
	if o.MaxDebounce == 0 {
		o.MaxDebounce = time.Second
	}
	if o.MaxConcurrentSends <= 0 {
		o.MaxConcurrentSends = 8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Server{opts: o, log: o.Logger, sends: make(chan struct{}, o.MaxConcurrentSends),
		streams: map[*stream]struct{}{}}, nil
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, s)
}

// stream is the server's state for one connected proxy.
type stream struct {
	sub      *distribute.Subscription
	node     string
	gateway  string
	identity string
	since    time.Time

	mu        sync.Mutex
	sent      uint64
	responses uint64
	bytes     uint64
}

// Proxies returns the status of every connected proxy, sorted by Gateway then
// node.
func (s *Server) Proxies() []ProxyStatus {
	s.mu.Lock()
	list := make([]*stream, 0, len(s.streams))
	for st := range s.streams {
		list = append(list, st)
	}
	s.mu.Unlock()
	out := make([]ProxyStatus, 0, len(list))
	for _, st := range list {
		acked, rej := st.sub.Acked()
		st.mu.Lock()
		out = append(out, ProxyStatus{Node: st.node, Gateway: st.gateway, Identity: st.identity,
			VersionSent: st.sent, VersionAcked: acked, Rejections: rej, ConnectedSince: st.since,
			Responses: st.responses, BytesSent: st.bytes})
		st.mu.Unlock()
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Gateway != out[b].Gateway {
			return out[a].Gateway < out[b].Gateway
		}
		return out[a].Node < out[b].Node
	})
	return out
}

// answer is a proxy's ACK or NACK of one response.
type answer struct {
	nonce      string
	rejections []ir.Rejection
}

// DeltaAggregatedResources implements the delta ADS stream.
func (s *Server) DeltaAggregatedResources(gs grpc.BidiStreamingServer[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]) error {
	ctx := gs.Context()
	identity, err := s.authenticate(ctx)
	if err != nil {
		s.log.Warn("xds stream refused", "reason", err)
		return status.Error(codes.Unauthenticated, err.Error())
	}
	first, err := gs.Recv()
	if err != nil {
		return err
	}
	node := first.GetNode().GetId()
	gateway := first.GetNode().GetMetadata().GetFields()[GatewayMetadataKey].GetStringValue()
	if ns, name, ok := strings.Cut(gateway, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return status.Errorf(codes.InvalidArgument, "node.metadata.%s must be \"namespace/name\", got %q", GatewayMetadataKey, gateway)
	}
	if !s.opts.Authorizer(identity, gateway) {
		s.log.Warn("xds stream refused", "node", node, "gateway", gateway, "identity", identity)
		return status.Errorf(codes.PermissionDenied, "%s may not read gateway %s", identity, gateway)
	}
	st := &stream{sub: s.opts.Hub.SubscribeGateway(gateway), node: node, gateway: gateway, identity: identity, since: time.Now()}
	defer st.sub.Close()
	s.mu.Lock()
	s.streams[st] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.mu.Unlock()
	}()
	log := s.log.With("node", node, "gateway", gateway)
	log.Info("proxy connected", "identity", identity)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan answer, 1)
	recvErr := make(chan error, 1)
	go func() {
		recvErr <- receiveAnswers(ctx, gs, answers)
		cancel()
	}()
	err = s.sendLoop(ctx, gs, st, answers, log)
	cancel()
	// The receiver has finished when the proxy went away; otherwise it ends
	// once this handler returns, so do not wait for it.
	select {
	case rerr := <-recvErr:
		if rerr != nil && !errors.Is(rerr, io.EOF) && status.Code(rerr) != codes.Canceled {
			err = rerr
		}
	default:
	}
	log.Info("proxy disconnected", "err", err)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// receiveAnswers forwards ACKs and NACKs until the stream ends.
func receiveAnswers(ctx context.Context, gs grpc.BidiStreamingServer[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse], out chan<- answer) error {
	for {
		req, err := gs.Recv()
		if err != nil {
			return err
		}
		if req.GetResponseNonce() == "" {
			continue // a subscription change; the Gateway slice is fixed per stream
		}
		a := answer{nonce: req.GetResponseNonce(), rejections: wire.RejectionsFromStatus(req.GetErrorDetail())}
		select {
		case out <- a:
		case <-ctx.Done():
			return nil
		}
	}
}

// sendLoop sends one response per (debounced) hub delta and waits for the
// proxy's answer before the next.
func (s *Server) sendLoop(ctx context.Context, gs grpc.ServerStream, st *stream, answers <-chan answer, log *slog.Logger) error {
	for {
		d, err := st.sub.NextDebounced(ctx, s.opts.Debounce, s.opts.MaxDebounce)
		if err != nil {
			return err
		}
		sent := time.Now()
		nonce, err := s.send(ctx, gs, st, d, log)
		if err != nil {
			return err
		}
		if err := waitAnswer(ctx, st, d.Version, nonce, answers, log); err != nil {
			return err
		}
		s.observePush(st, len(d.Upserts), len(d.Removes), d.Version, sent)
	}
}

// send converts and sends one delta while holding a send slot.
func (s *Server) send(ctx context.Context, gs grpc.ServerStream, st *stream, d ir.Delta, log *slog.Logger) (string, error) {
	select {
	case s.sends <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sends }()
	resp := s.response(d, log)
	if err := gs.SendMsg(resp); err != nil {
		return "", err
	}
	st.mu.Lock()
	st.sent = d.Version
	st.responses++
	st.bytes += uint64(proto.Size(resp))
	st.mu.Unlock()
	return resp.Nonce, nil
}

// response converts a delta to a DeltaDiscoveryResponse. A resource that does
// not convert (a bug, not user input) is logged and left out.
func (s *Server) response(d ir.Delta, log *slog.Logger) *discoveryv3.DeltaDiscoveryResponse {
	version := strconv.FormatUint(d.Version, 10)
	resp := &discoveryv3.DeltaDiscoveryResponse{
		SystemVersionInfo: version,
		TypeUrl:           StreamTypeURL,
		Nonce:             strconv.FormatUint(s.nonce.Add(1), 36),
		Resources:         make([]*discoveryv3.Resource, 0, len(d.Upserts)),
	}
	for _, r := range d.Upserts {
		a, err := wire.ToProto(r)
		if err != nil {
			log.Error("cannot encode resource", "resource", r.ResourceID().String(), "err", err)
			continue
		}
		resp.Resources = append(resp.Resources, &discoveryv3.Resource{Name: wire.ResourceName(r.ResourceID()), Version: version, Resource: a})
	}
	for _, id := range d.Removes {
		resp.RemovedResources = append(resp.RemovedResources, wire.ResourceName(id))
	}
	return resp
}

// waitAnswer blocks until the proxy answers the response with nonce and
// records the ACK or NACK. Answers to older nonces are ignored.
func waitAnswer(ctx context.Context, st *stream, version uint64, nonce string, answers <-chan answer, log *slog.Logger) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case a := <-answers:
			if a.nonce != nonce {
				continue
			}
			st.sub.Report(version, a.rejections)
			if len(a.rejections) > 0 {
				log.Warn("proxy rejected configuration", "version", version, "rejections", fmt.Sprint(a.rejections))
			}
			return nil
		}
	}
}

// authenticate reads "authorization: Bearer <token>" from the stream's
// metadata.
func (s *Server) authenticate(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var token string
	for _, v := range md.Get("authorization") {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			token = strings.TrimSpace(t)
		}
	}
	if token == "" {
		return "", errors.New("no bearer token in the authorization metadata")
	}
	id, err := s.opts.Authenticator.Authenticate(ctx, token)
	if err != nil {
		return "", err
	}
	return id, nil
}
