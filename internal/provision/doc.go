// Package provision turns a Gateway into the Kubernetes objects that run its
// proxies: a ServiceAccount, a Deployment of `gatehouse proxy` pods and a
// Service exposing the Gateway's listener ports, all in the Gateway's
// namespace and owned by it (so deleting the Gateway garbage-collects them).
//
// The work is split in two so the interesting part stays pure:
//
//   - Desired computes the objects from the Gateway, its GatewayParameters
//     and the controller's Options. No I/O; table-tested.
//   - Apply writes them with server-side apply (field manager "gatehouse"),
//     skipping an object when the fields we own already hold the desired
//     values, so a resync that changes nothing makes no writes.
//
// GatewayAddresses reads the addresses for Gateway status back from the
// provisioned Service.
package provision
