package xds

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"gatehouse.dev/gatehouse/internal/distribute/wire"
	"gatehouse.dev/gatehouse/internal/ir"
)

// Client is the proxy side of the stream: it receives its Gateway's
// configuration from a Server and hands it to the proxy as ir.Deltas.
type Client struct {
	// Addr is the server's host:port.
	Addr string
	// Gateway is "namespace/name" of the Gateway this proxy serves.
	Gateway string
	// Node identifies this proxy (its pod name).
	Node string
	// TokenFile holds the bearer token; it is read again on every connect
	// because projected ServiceAccount tokens rotate. Empty sends no token.
	TokenFile string
	// TLS, when set, secures the connection; nil means plaintext.
	TLS *tls.Config
	// MinBackoff and MaxBackoff bound the jittered exponential reconnect
	// delay (defaults 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	// DialOptions are added to the defaults.
	DialOptions []grpc.DialOption
	Logger      *slog.Logger

	connected atomic.Bool
	// held is every resource name the proxy was given and not told to remove;
	// only Run's goroutine touches it.
	held map[ir.ID]struct{}
}

// Connected reports whether a stream is up and its full set was applied.
func (c *Client) Connected() bool { return c.connected.Load() }

// Run connects and applies every response with apply until ctx ends,
// reconnecting with jittered exponential backoff. While disconnected nothing
// is applied, so the proxy keeps serving its last configuration. It returns
// nil when ctx ends.
func (c *Client) Run(ctx context.Context, apply func(ir.Delta) []ir.Rejection) error {
	minB, maxB := c.MinBackoff, c.MaxBackoff
	if minB <= 0 {
		minB = 100 * time.Millisecond
	}
	if maxB < minB {
		maxB = max(5*time.Second, minB)
	}
	log := c.logger()
	c.held = map[ir.ID]struct{}{}
	backoff := minB
	for {
		applied, err := c.session(ctx, apply)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if applied {
			backoff = minB
		}
		// Full jitter in [backoff/2, backoff) spreads reconnecting proxies.
		wait := backoff/2 + rand.N(backoff/2+1)
		log.Warn("config stream ended; reconnecting", "addr", c.Addr, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, maxB)
	}
}

func (c *Client) logger() *slog.Logger {
	l := c.Logger
	if l == nil {
		l = slog.Default()
	}
	return l.With("gateway", c.Gateway, "node", c.Node)
}

// session runs one stream; applied reports whether any response was applied.
func (c *Client) session(ctx context.Context, apply func(ir.Delta) []ir.Rejection) (applied bool, err error) {
	creds := insecure.NewCredentials()
	if c.TLS != nil {
		creds = credentials.NewTLS(c.TLS)
	}
	conn, err := grpc.NewClient(c.Addr, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, c.DialOptions...)...)
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", c.Addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c.TokenFile != "" {
		tok, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return false, fmt.Errorf("read token: %w", err)
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return false, err
	}
	err = stream.Send(&discoveryv3.DeltaDiscoveryRequest{
		TypeUrl: StreamTypeURL,
		Node: &corev3.Node{Id: c.Node, Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			GatewayMetadataKey: structpb.NewStringValue(c.Gateway)}}},
	})
	if err != nil {
		return false, err
	}
	for first := true; ; first = false {
		resp, err := stream.Recv()
		if err != nil {
			return applied, err
		}
		d, rej := c.toDelta(resp, first)
		rej = append(rej, apply(d)...)
		c.remember(d)
		applied = true
		c.connected.Store(true)
		err = stream.Send(&discoveryv3.DeltaDiscoveryRequest{
			TypeUrl:       StreamTypeURL,
			ResponseNonce: resp.GetNonce(),
			ErrorDetail:   wire.RejectionsToStatus(rej),
		})
		if err != nil {
			return applied, err
		}
	}
}

// toDelta converts a response. A resource that does not decode becomes a
// rejection (the proxy keeps its previous version) and the rest is applied.
// The first response of a stream is the full set: whatever the proxy held
// that is not in it is removed.
func (c *Client) toDelta(resp *discoveryv3.DeltaDiscoveryResponse, full bool) (ir.Delta, []ir.Rejection) {
	var d ir.Delta
	var rej []ir.Rejection
	if v, err := strconv.ParseUint(resp.GetSystemVersionInfo(), 10, 64); err == nil {
		d.Version = v
	}
	present := map[ir.ID]struct{}{}
	for _, res := range resp.GetResources() {
		id, idErr := wire.ParseResourceName(res.GetName())
		if idErr == nil {
			present[id] = struct{}{}
		}
		r, err := wire.FromProto(res.GetResource())
		switch {
		case err != nil:
			rej = append(rej, ir.Rejection{ID: id, Reason: fmt.Sprintf("resource %q: %v", res.GetName(), err)})
		case idErr != nil:
			rej = append(rej, ir.Rejection{ID: r.ResourceID(), Reason: idErr.Error()})
		case r.ResourceID() != id:
			rej = append(rej, ir.Rejection{ID: id, Reason: fmt.Sprintf("resource %q carries %s", res.GetName(), r.ResourceID())})
		default:
			d.Upserts = append(d.Upserts, r)
		}
	}
	for _, name := range resp.GetRemovedResources() {
		id, err := wire.ParseResourceName(name)
		if err != nil {
			rej = append(rej, ir.Rejection{Reason: fmt.Sprintf("removed resource: %v", err)})
			continue
		}
		d.Removes = append(d.Removes, id)
	}
	if full {
		for id := range c.held {
			if _, ok := present[id]; !ok {
				d.Removes = append(d.Removes, id)
			}
		}
	}
	return d, rej
}

// remember tracks what the proxy holds. Upserts count even if the proxy
// rejected them: removing an ID it never took is harmless.
func (c *Client) remember(d ir.Delta) {
	for _, id := range d.Removes {
		delete(c.held, id)
	}
	for _, r := range d.Upserts {
		c.held[r.ResourceID()] = struct{}{}
	}
}
