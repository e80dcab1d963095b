package provision

// The apiextensions.k8s.io/v1 types are not in this module's dependencies
// (k8s.io/apiextensions-apiserver), so the tests decode CRDs into this
// mirror of the subset we use. Field names and JSON tags are copied from
// k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/types.go and
// types_jsonschema.go; a field we write that is not mirrored here fails the
// strict decode, and a misspelt one would fail the apiserver too.

type crd struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   crdMetadata `json:"metadata"`
	Spec       crdSpec     `json:"spec"`
}

type crdMetadata struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type crdSpec struct {
	Group    string       `json:"group"`
	Scope    string       `json:"scope"`
	Names    crdNames     `json:"names"`
	Versions []crdVersion `json:"versions"`
}

type crdNames struct {
	Kind       string   `json:"kind"`
	ListKind   string   `json:"listKind,omitempty"`
	Plural     string   `json:"plural"`
	Singular   string   `json:"singular,omitempty"`
	ShortNames []string `json:"shortNames,omitempty"`
	Categories []string `json:"categories,omitempty"`
}

type crdVersion struct {
	Name                     string              `json:"name"`
	Served                   bool                `json:"served"`
	Storage                  bool                `json:"storage"`
	Schema                   *crdValidation      `json:"schema,omitempty"`
	Subresources             map[string]any      `json:"subresources,omitempty"`
	AdditionalPrinterColumns []crdPrinterColumn  `json:"additionalPrinterColumns,omitempty"`
	Deprecated               bool                `json:"deprecated,omitempty"`
	SelectableFields         []map[string]string `json:"selectableFields,omitempty"`
}

type crdPrinterColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Format      string `json:"format,omitempty"`
	Description string `json:"description,omitempty"`
	Priority    int32  `json:"priority,omitempty"`
	JSONPath    string `json:"jsonPath"`
}

type crdValidation struct {
	OpenAPIV3Schema *jsonSchemaProps `json:"openAPIV3Schema,omitempty"`
}

// jsonSchemaProps mirrors the structural-schema subset of JSONSchemaProps.
type jsonSchemaProps struct {
	Description          string                      `json:"description,omitempty"`
	Type                 string                      `json:"type,omitempty"`
	Format               string                      `json:"format,omitempty"`
	Default              any                         `json:"default,omitempty"`
	Enum                 []any                       `json:"enum,omitempty"`
	Pattern              string                      `json:"pattern,omitempty"`
	Minimum              *float64                    `json:"minimum,omitempty"`
	Maximum              *float64                    `json:"maximum,omitempty"`
	MinLength            *int64                      `json:"minLength,omitempty"`
	MaxLength            *int64                      `json:"maxLength,omitempty"`
	MinItems             *int64                      `json:"minItems,omitempty"`
	MaxItems             *int64                      `json:"maxItems,omitempty"`
	MinProperties        *int64                      `json:"minProperties,omitempty"`
	MaxProperties        *int64                      `json:"maxProperties,omitempty"`
	Required             []string                    `json:"required,omitempty"`
	Properties           map[string]*jsonSchemaProps `json:"properties,omitempty"`
	AdditionalProperties *jsonSchemaProps            `json:"additionalProperties,omitempty"`
	Items                *jsonSchemaProps            `json:"items,omitempty"`
	AnyOf                []*jsonSchemaProps          `json:"anyOf,omitempty"`
	PreserveUnknown      bool                        `json:"x-kubernetes-preserve-unknown-fields,omitempty"`
	IntOrString          bool                        `json:"x-kubernetes-int-or-string,omitempty"`
	ListType             string                      `json:"x-kubernetes-list-type,omitempty"`
	ListMapKeys          []string                    `json:"x-kubernetes-list-map-keys,omitempty"`
	MapType              string                      `json:"x-kubernetes-map-type,omitempty"`
}
