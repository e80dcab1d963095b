package cel

import (
	"fmt"
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// CEL object types of the request-scoped variables. They are declared to the
// type checker through provider and backed at runtime by objView, a typed
// pointer to the Context, so resolving a variable never allocates.
var (
	RequestType  = types.NewObjectType("gatehouse.Request")
	ResponseType = types.NewObjectType("gatehouse.Response")
	SourceType   = types.NewObjectType("gatehouse.Source")
	BackendType  = types.NewObjectType("gatehouse.Backend")
	LLMType      = types.NewObjectType("gatehouse.LLM")
)

// fieldDesc describes one field of an object type: its CEL type and how to
// read it from the Context. get returns a *types.Err when the value is not
// available (for example response fields before the response exists).
type fieldDesc struct {
	typ   *types.Type
	get   func(*Context) ref.Val
	isSet func(*Context) bool // nil: set whenever the object is available
}

// objectDesc describes an object type and its fields.
type objectDesc struct {
	typ        *types.Type
	fields     map[string]fieldDesc
	names      []string
	fieldTypes map[string]*types.FieldType
}

// objKind selects the object type of an objView.
type objKind interface{ desc() *objectDesc }

// objView is a CEL object over the Context. The type parameter only selects
// the descriptor: every view is the same pointer, so converting a *Context to a
// view and storing it in an interface is free.
type objView[K objKind] Context

type (
	requestKind  struct{}
	responseKind struct{}
	sourceKind   struct{}
	backendKind  struct{}
	llmKind      struct{}
)

func (requestKind) desc() *objectDesc  { return requestDesc }
func (responseKind) desc() *objectDesc { return responseDesc }
func (sourceKind) desc() *objectDesc   { return sourceDesc }
func (backendKind) desc() *objectDesc  { return backendDesc }
func (llmKind) desc() *objectDesc      { return llmDesc }

// objectVal is implemented by every objView instantiation.
type objectVal interface {
	ref.Val
	objectDesc() *objectDesc
	context() *Context
}

func newObjectDesc[K objKind](typ *types.Type, fields map[string]fieldDesc, order ...string) *objectDesc {
	d := &objectDesc{typ: typ, fields: fields, names: order, fieldTypes: make(map[string]*types.FieldType, len(fields))}
	for name, f := range fields {
		f := f
		d.fieldTypes[name] = &types.FieldType{
			Type: f.typ,
			IsSet: func(target any) bool {
				v, ok := target.(*objView[K])
				return ok && (f.isSet == nil || f.isSet(v.context()))
			},
			GetFrom: func(target any) (any, error) {
				v, ok := target.(*objView[K])
				if !ok {
					return nil, fmt.Errorf("%s: unexpected value %T", typ.TypeName(), target)
				}
				val := f.get(v.context())
				if err, isErr := val.(*types.Err); isErr {
					return nil, err
				}
				return val, nil
			},
		}
	}
	if len(order) != len(fields) {
		panic("cel: field order of " + typ.TypeName() + " does not list every field")
	}
	return d
}

func (v *objView[K]) context() *Context { return (*Context)(v) }

func (v *objView[K]) objectDesc() *objectDesc {
	var k K
	return k.desc()
}

// Get implements traits.Indexer for dynamic field access (e.g. on dyn values).
func (v *objView[K]) Get(field ref.Val) ref.Val {
	name, ok := field.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(field)
	}
	f, ok := v.objectDesc().fields[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", name)
	}
	return f.get(v.context())
}

// IsSet implements traits.FieldTester for has().
func (v *objView[K]) IsSet(field ref.Val) ref.Val {
	name, ok := field.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(field)
	}
	f, ok := v.objectDesc().fields[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", name)
	}
	if f.isSet == nil {
		return types.Bool(!types.IsError(f.get(v.context())))
	}
	return types.Bool(f.isSet(v.context()))
}

// Type implements ref.Val.
func (v *objView[K]) Type() ref.Type { return v.objectDesc().typ }

// Value implements ref.Val. It returns the view itself: cel-go hands it back to
// the field getters.
func (v *objView[K]) Value() any { return v }

// Equal implements ref.Val: views are equal when they view the same Context.
func (v *objView[K]) Equal(other ref.Val) ref.Val {
	o, ok := other.(*objView[K])
	return types.Bool(ok && o == v)
}

// ConvertToType implements ref.Val.
func (v *objView[K]) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.TypeType:
		return v.objectDesc().typ
	case v.objectDesc().typ:
		return v
	}
	return types.NewErr("type conversion error from '%s' to '%s'", v.objectDesc().typ.TypeName(), t.TypeName())
}

// ConvertToNative implements ref.Val; object views have no Go form.
func (v *objView[K]) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("type conversion error from '%s' to '%v'", v.objectDesc().typ.TypeName(), t)
}

var (
	_ traits.Indexer     = (*objView[requestKind])(nil)
	_ traits.FieldTester = (*objView[requestKind])(nil)
	_ objectVal          = (*objView[requestKind])(nil)
)

// provider extends the environment's type provider with the object types.
type provider struct {
	types.Provider
	objects map[string]*objectDesc
}

func newProvider(base types.Provider) *provider {
	p := &provider{Provider: base, objects: map[string]*objectDesc{}}
	for _, d := range []*objectDesc{requestDesc, responseDesc, sourceDesc, backendDesc, llmDesc} {
		p.objects[d.typ.TypeName()] = d
	}
	return p
}

// FindStructType implements types.Provider.
func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if d, ok := p.objects[name]; ok {
		return types.NewTypeTypeWithParam(d.typ), true
	}
	return p.Provider.FindStructType(name)
}

// FindStructFieldNames implements types.Provider.
func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if d, ok := p.objects[name]; ok {
		return append([]string(nil), d.names...), true
	}
	return p.Provider.FindStructFieldNames(name)
}

// FindStructFieldType implements types.Provider.
func (p *provider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if d, ok := p.objects[name]; ok {
		ft, found := d.fieldTypes[field]
		return ft, found
	}
	return p.Provider.FindStructFieldType(name, field)
}

// NewValue implements types.Provider. The request-scoped objects are read-only
// views and cannot be constructed in an expression.
func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.objects[name]; ok {
		return types.NewErr("type %s cannot be constructed in an expression", name)
	}
	return p.Provider.NewValue(name, fields)
}
