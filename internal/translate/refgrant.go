package translate

import (
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
)

// referenceAllowed reports whether an object of fromGroup/fromKind in fromNS
// may reference toGroup/toKind toNS/toName: same namespace always may; across
// namespaces a ReferenceGrant in the target namespace must allow it.
func (t *Translator) referenceAllowed(ctx *collection.Ctx, fromGroup, fromKind, fromNS, toGroup, toKind, toNS, toName string) bool {
	if fromNS == toNS {
		return true
	}
	for _, e := range collection.FetchIndex(ctx, t.grantsByNamespace, toNS) {
		if grantAllows(e.Value, fromGroup, fromKind, fromNS, toGroup, toKind, toName) {
			return true
		}
	}
	return false
}

func grantAllows(g *gwv1.ReferenceGrant, fromGroup, fromKind, fromNS, toGroup, toKind, toName string) bool {
	fromOK := false
	for _, f := range g.Spec.From {
		if string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS {
			fromOK = true
			break
		}
	}
	if !fromOK {
		return false
	}
	for _, to := range g.Spec.To {
		if string(to.Group) == toGroup && string(to.Kind) == toKind && (to.Name == nil || *to.Name == "" || string(*to.Name) == toName) {
			return true
		}
	}
	return false
}
