package cel

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unsafe"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

const (
	jsonFunc         = "json"
	regexReplaceFunc = "regexReplace"
	regexReplaceID   = "gatehouse_regex_replace"
)

// functionOptions declares Gatehouse's own functions.
func functionOptions() []cel.EnvOption {
	typeA := cel.TypeParamType("A")
	return []cel.EnvOption{
		cel.Function(jsonFunc,
			cel.FunctionDocs("json parses JSON; json(request.body) is parsed at most once per request"),
			cel.Overload("json_bytes", []*cel.Type{cel.BytesType}, cel.DynType, cel.LateFunctionBinding()),
			cel.Overload("json_string", []*cel.Type{cel.StringType}, cel.DynType, cel.LateFunctionBinding())),
		cel.Function("toJson",
			cel.Overload("to_json_dyn", []*cel.Type{cel.DynType}, cel.StringType, cel.UnaryBinding(toJSON))),
		cel.Function("sha256",
			cel.Overload("sha256_string", []*cel.Type{cel.StringType}, cel.StringType, cel.UnaryBinding(sha256Hex)),
			cel.Overload("sha256_bytes", []*cel.Type{cel.BytesType}, cel.StringType, cel.UnaryBinding(sha256Hex))),
		cel.Function(regexReplaceFunc,
			cel.Overload(regexReplaceID, []*cel.Type{cel.StringType, cel.StringType, cel.StringType}, cel.StringType,
				cel.FunctionBinding(regexReplace))),
		cel.Function("default",
			cel.FunctionDocs("default(value, fallback) is fallback when value is an error or null"),
			cel.Overload("default_a_a", []*cel.Type{typeA, typeA}, typeA,
				cel.OverloadIsNonStrict(), cel.BinaryBinding(defaultValue))),
		cel.Function("isPrivate",
			cel.MemberOverload("ip_is_private", []*cel.Type{ext.IPType}, cel.BoolType, cel.UnaryBinding(ipIsPrivate))),
	}
}

// regexReplaceOptimization compiles a literal regexReplace pattern once, when
// the program is built, and reports a bad literal pattern at compile time.
var regexReplaceOptimization = &interpreter.RegexOptimization{
	Function:   regexReplaceFunc,
	OverloadID: regexReplaceID,
	RegexIndex: 1,
	Factory: func(call interpreter.InterpretableCall, pattern string) (interpreter.InterpretableCall, error) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, err
		}
		return interpreter.NewCall(call.ID(), call.Function(), call.OverloadID(), call.Args(),
			func(args ...ref.Val) ref.Val {
				s, ok1 := args[0].(types.String)
				repl, ok2 := args[2].(types.String)
				if !ok1 || !ok2 {
					return types.NoSuchOverloadErr()
				}
				return types.String(re.ReplaceAllString(string(s), string(repl)))
			}), nil
	},
}

func regexReplace(args ...ref.Val) ref.Val {
	s, ok1 := args[0].(types.String)
	pattern, ok2 := args[1].(types.String)
	repl, ok3 := args[2].(types.String)
	if !ok1 || !ok2 || !ok3 {
		return types.NoSuchOverloadErr()
	}
	re, err := regexp.Compile(string(pattern))
	if err != nil {
		return types.NewErr("regexReplace: %v", err)
	}
	return types.String(re.ReplaceAllString(string(s), string(repl)))
}

// defaultValue is non-strict: it sees errors and unknowns instead of having
// them propagated, and substitutes the fallback for them and for null.
func defaultValue(value, fallback ref.Val) ref.Val {
	if types.IsUnknownOrError(value) || value == types.NullValue {
		return fallback
	}
	return value
}

func ipIsPrivate(v ref.Val) ref.Val {
	ip, ok := v.(ext.IP)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	return types.Bool(ip.Addr.IsPrivate())
}

func sha256Hex(v ref.Val) ref.Val {
	var sum [sha256.Size]byte
	switch x := v.(type) {
	case types.String:
		sum = sha256.Sum256(unsafe.Slice(unsafe.StringData(string(x)), len(x)))
	case types.Bytes:
		sum = sha256.Sum256(x)
	default:
		return types.MaybeNoSuchOverloadErr(v)
	}
	return types.String(hex.EncodeToString(sum[:]))
}

// evalJSON is the late-bound implementation of json(), bound to c.
func (c *Context) evalJSON(_ string, args ...ref.Val) ref.Val {
	if len(args) != 1 {
		return types.NoSuchOverloadErr()
	}
	switch x := args[0].(type) {
	case types.Bytes:
		if sameBytes(x, c.Body) {
			if !c.bodyParsed {
				c.bodyJSON, c.bodyParsed = c.parseJSON(x), true
			}
			return c.bodyJSON
		}
		return c.parseJSON(x)
	case types.String:
		// json.Unmarshal does not retain or modify its input.
		return c.parseJSON(unsafe.Slice(unsafe.StringData(string(x)), len(x)))
	}
	return types.MaybeNoSuchOverloadErr(args[0])
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}

func (c *Context) parseJSON(data []byte) ref.Val {
	c.jsonParses++
	return parseJSON(data)
}

// parseJSON decodes a JSON document into a CEL value. Objects become maps
// viewed in place, numbers doubles (as in protobuf's JSON mapping).
func parseJSON(data []byte) ref.Val {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return types.NewErr("json: %v", err)
	}
	return nativeToVal(v)
}

func toJSON(v ref.Val) ref.Val {
	native, err := jsonNative(v, 0)
	if err != nil {
		return types.NewErr("toJson: %v", err)
	}
	out, err := json.Marshal(native)
	if err != nil {
		return types.NewErr("toJson: %v", err)
	}
	return types.String(out)
}

const maxJSONDepth = 64

// jsonNative converts a CEL value to the Go form encoding/json serialises.
func jsonNative(v ref.Val, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxJSONDepth)
	}
	switch x := v.(type) {
	case *types.Err:
		return nil, x
	case types.Null:
		return nil, nil
	case types.Bool, types.String, types.Int, types.Uint, types.Double, types.Bytes:
		return x.Value(), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return strconv.FormatFloat(x.Duration.Seconds(), 'f', -1, 64) + "s", nil
	case ext.IP:
		return x.Addr.String(), nil
	case ext.CIDR:
		return x.Prefix.String(), nil
	case objectVal:
		return objectJSON(x, depth)
	case traits.Mapper:
		return mapJSON(x, depth)
	case traits.Lister:
		out := make([]any, 0, int(x.Size().(types.Int)))
		for it := x.Iterator(); it.HasNext() == types.True; {
			e, err := jsonNative(it.Next(), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot serialise a value of type %s", v.Type().TypeName())
}

func objectJSON(o objectVal, depth int) (any, error) {
	d, c := o.objectDesc(), o.context()
	out := make(map[string]any, len(d.names))
	for _, name := range d.names {
		f := d.fields[name]
		if f.isSet != nil && !f.isSet(c) {
			continue
		}
		fv := f.get(c)
		if types.IsError(fv) {
			continue // unavailable fields are omitted
		}
		n, err := jsonNative(fv, depth+1)
		if err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, nil
}

func mapJSON(m traits.Mapper, depth int) (any, error) {
	out := make(map[string]any, int(m.Size().(types.Int)))
	for it := m.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		var key string
		switch kv := k.(type) {
		case types.String:
			key = string(kv)
		case types.Int, types.Uint, types.Bool:
			key = fmt.Sprint(kv.Value())
		default:
			return nil, fmt.Errorf("map key of type %s", k.Type().TypeName())
		}
		val, err := jsonNative(m.Get(k), depth+1)
		if err != nil {
			return nil, err
		}
		out[key] = val
	}
	return out, nil
}
