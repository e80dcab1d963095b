// Package v1alpha1 holds Gatehouse's own API types, group gatehouse.dev,
// version v1alpha1. They are written in the same YAML as the Gateway API
// resources and used from any backendRef by group and kind.
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of Gatehouse's own resources.
const GroupName = "gatehouse.dev"

// GroupVersion is group gatehouse.dev, version v1alpha1.
var GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}
