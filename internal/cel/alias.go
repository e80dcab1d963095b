package cel

import (
	"time"
	"unsafe"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// This file builds CEL values that alias Go memory instead of copying it.
//
// Storing a string in an interface normally copies its header to the heap: one
// allocation per header or path read. A non-empty interface is two words, the
// itab of the dynamic type and a pointer to the value; for types.String (whose
// underlying type is string) that pointer may just as well point at the string
// header that already lives in the http.Request. The same holds for
// types.Bytes/[]byte, types.Int/int64, types.Double/float64,
// types.Duration/time.Duration and types.Timestamp/time.Time, whose layouts are
// identical by definition.
//
// Invariant callers keep: the pointee must be heap memory (or static) that is not
// written while the returned value is in use. Request fields and header slices
// satisfy this for the duration of an evaluation; the package documents that
// values returned by Eval are only valid until the request or Context changes.

// ifaceWords mirrors the runtime representation of a non-empty interface.
type ifaceWords struct {
	tab  unsafe.Pointer
	data unsafe.Pointer
}

// efaceWords mirrors the runtime representation of an empty interface.
type efaceWords struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func itabOf(v ref.Val) unsafe.Pointer {
	return (*ifaceWords)(unsafe.Pointer(&v)).tab
}

var (
	stringTab    = itabOf(types.String(""))
	bytesTab     = itabOf(types.Bytes(nil))
	intTab       = itabOf(types.Int(0))
	doubleTab    = itabOf(types.Double(0))
	durationTab  = itabOf(types.Duration{})
	timestampTab = itabOf(types.Timestamp{})
)

func aliasVal(tab, data unsafe.Pointer) ref.Val {
	var v ref.Val
	w := (*ifaceWords)(unsafe.Pointer(&v))
	w.tab, w.data = tab, data
	return v
}

// aliasString returns a types.String that reads *p.
func aliasString(p *string) ref.Val { return aliasVal(stringTab, unsafe.Pointer(p)) }

// aliasBytes returns a types.Bytes that reads *p.
func aliasBytes(p *[]byte) ref.Val { return aliasVal(bytesTab, unsafe.Pointer(p)) }

// aliasInt returns a types.Int that reads *p.
func aliasInt(p *int64) ref.Val { return aliasVal(intTab, unsafe.Pointer(p)) }

// aliasDuration returns a types.Duration that reads *p.
func aliasDuration(p *time.Duration) ref.Val { return aliasVal(durationTab, unsafe.Pointer(p)) }

// aliasTimestamp returns a types.Timestamp that reads *p.
func aliasTimestamp(p *time.Time) ref.Val { return aliasVal(timestampTab, unsafe.Pointer(p)) }

// nativeToVal converts a value decoded from JSON (or a claim set) to CEL
// without copying: a string or float64 already boxed in an interface is
// re-used in place, maps are wrapped, not converted.
func nativeToVal(v any) ref.Val {
	switch x := v.(type) {
	case nil:
		return types.NullValue
	case string:
		return aliasVal(stringTab, (*efaceWords)(unsafe.Pointer(&v)).data)
	case float64:
		return aliasVal(doubleTab, (*efaceWords)(unsafe.Pointer(&v)).data)
	case bool:
		return types.Bool(x)
	case map[string]any:
		return anyMap{m: x}
	case ref.Val:
		return x
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}
