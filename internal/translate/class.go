package translate

import (
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
)

// classResult is a GatewayClass of ours and its status.
type classResult struct {
	Name   string
	Status ObjectStatus
}

// translateClass accepts every GatewayClass whose controllerName is ours and
// ignores the others (their status belongs to another controller).
func (t *Translator) translateClass(_ *collection.Ctx, key string, gc *gwv1.GatewayClass) (*classResult, bool) {
	if string(gc.Spec.ControllerName) != t.controller {
		return nil, false
	}
	st := &gwv1.GatewayClassStatus{}
	c := cond(gwv1.GatewayClassConditionStatusAccepted, true, gwv1.GatewayClassReasonAccepted,
		"Handled by Gatehouse", gc.Generation)
	if gc.Spec.ParametersRef != nil {
		c = cond(gwv1.GatewayClassConditionStatusAccepted, false, gwv1.GatewayClassReasonInvalidParameters,
			"spec.parametersRef is not supported yet: remove it", gc.Generation)
	}
	st.Conditions = append(st.Conditions, c)
	if c.Status == "True" {
		st.SupportedFeatures = supportedFeatures()
	}
	return &classResult{Name: key, Status: ObjectStatus{Kind: "GatewayClass", Name: gc.Name, GatewayClass: st}}, true
}

// classAccepts reports whether the named GatewayClass is ours and accepted.
func (t *Translator) classAccepts(ctx *collection.Ctx, name string) bool {
	c, ok := collection.Fetch(ctx, t.classes, name)
	if !ok {
		return false
	}
	return c.Status.GatewayClass.Conditions[0].Status == "True"
}
