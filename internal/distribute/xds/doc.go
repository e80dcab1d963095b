// Package xds serves the Hub's per-Gateway IR slices to remote proxies over
// the Envoy delta xDS protocol (envoy.service.discovery.v3.
// AggregatedDiscoveryService/DeltaAggregatedResources) and holds the proxy
// side of that stream.
//
// Protocol, as Gatehouse uses it:
//
//   - The proxy opens a stream with gRPC metadata "authorization: Bearer
//     <token>" and sends a first DeltaDiscoveryRequest whose node.id is its pod
//     name and whose node.metadata field "gateway" is "namespace/name". The
//     server authenticates the token (Authenticator), checks the identity may
//     read that Gateway (Authorizer), and subscribes the stream with
//     Hub.SubscribeGateway. Failures end the stream with Unauthenticated,
//     PermissionDenied or InvalidArgument.
//   - One stream carries every IR kind: type_url is StreamTypeURL on both
//     sides, and each Resource's Any has its own type URL
//     ("type.googleapis.com/gatehouse.ir.v1.Route", ...). Resource names and
//     removed_resources are "Kind/name".
//   - The first response on a stream is the Gateway's full slice; later ones
//     carry only what changed. system_version_info is the hub version, so
//     proxies of one Gateway that converged report the same version.
//   - Each response has a fresh nonce. The proxy answers every response with a
//     request carrying response_nonce: an ACK, or a NACK whose error_detail
//     holds one gatehouse.ir.v1.Rejection per refused resource. The server
//     sends nothing more on a stream until that answer arrives; changes made
//     meanwhile coalesce into the next response.
//   - Changes are debounced (Options.Debounce, capped by MaxDebounce) and at
//     most Options.MaxConcurrentSends responses are built and sent at once
//     across all streams.
//   - On reconnect the proxy receives the full slice again and removes what it
//     held that is no longer in it.
package xds
