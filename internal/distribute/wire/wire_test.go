package wire

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"gatehouse.dev/gatehouse/internal/ir"
)

// filler sets every field of a value to a distinct non-zero value, so a
// field that a conversion drops comes back zero and fails the comparison.
// IR types nest recursively (Filter -> Mirror -> BackendRef -> Filters), so a
// struct type is filled at most twice along one path; deeper slices stay nil.
type filler struct {
	n     int
	depth map[reflect.Type]int
}

const maxTypeDepth = 2

var timeType = reflect.TypeOf(time.Time{})

func (f *filler) fill(v reflect.Value) {
	f.n++
	n := f.n
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(time.Unix(int64(1_700_000_000+n), int64(n)).UTC()))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+n%26)) + time.Duration(n).String())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n))
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.5)
	case reflect.Uint8:
		v.SetUint(uint64(n % 256))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem())
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			f.fill(s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		f.depth[v.Type()]++
		defer func() { f.depth[v.Type()]-- }()
		for i := 0; i < v.NumField(); i++ {
			if fv := v.Field(i); fv.Kind() != reflect.Slice || f.depth[fv.Type().Elem()] < maxTypeDepth {
				f.fill(fv)
			}
		}
	default:
		panic("filler: unsupported kind " + v.Kind().String() + " (" + v.Type().String() + "): extend the filler")
	}
}

// assertNoZero fails for any zero field reachable from v, proving the filler
// covers every field (so the round trip checks every field).
func assertNoZero(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	assertNoZeroDepth(t, path, v, map[reflect.Type]int{})
}

func assertNoZeroDepth(t *testing.T, path string, v reflect.Value, depth map[reflect.Type]int) {
	t.Helper()
	if v.IsZero() {
		t.Fatalf("filler left %s zero", path)
	}
	switch v.Kind() {
	case reflect.Pointer:
		assertNoZeroDepth(t, path, v.Elem(), depth)
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			assertNoZeroDepth(t, path+"[]", v.Index(i), depth)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		depth[v.Type()]++
		defer func() { depth[v.Type()]-- }()
		for i := 0; i < v.NumField(); i++ {
			fv := v.Field(i)
			if fv.Kind() == reflect.Slice && depth[fv.Type().Elem()] >= maxTypeDepth {
				continue // the filler stops here on purpose
			}
			assertNoZeroDepth(t, path+"."+v.Type().Field(i).Name, fv, depth)
		}
	}
}

// assertAllSet fails for any field of the message (recursively) that the
// conversion left unset, catching a proto field nobody maps.
func assertAllSet(t *testing.T, path string, m protoreflect.Message) {
	t.Helper()
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		p := path + "." + string(fd.Name())
		if !m.Has(fd) {
			if fd.IsList() && strings.Count(p, ".filters") >= maxTypeDepth {
				continue // the filler stops nesting filters here
			}
			t.Fatalf("proto field %s not set by ToProto", p)
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := m.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				assertAllSet(t, p+"[]", l.Get(j).Message())
			}
		case fd.Message() != nil && !fd.IsMap() && fd.Message().FullName().Parent() == "gatehouse.ir.v1":
			assertAllSet(t, p, m.Get(fd).Message())
		}
	}
}

func filled() []ir.Resource {
	f := &filler{depth: map[reflect.Type]int{}}
	out := []ir.Resource{&ir.Bind{}, &ir.Listener{}, &ir.Certificate{}, &ir.Route{}, &ir.Backend{}, &ir.Policy{}, &ir.L4Route{}}
	for _, r := range out {
		f.fill(reflect.ValueOf(r).Elem())
	}
	return out
}

func TestRoundTripEveryField(t *testing.T) {
	for _, r := range filled() {
		id := r.ResourceID()
		t.Run(string(id.Kind), func(t *testing.T) {
			assertNoZero(t, string(id.Kind), reflect.ValueOf(r))
			a, err := ToProto(r)
			if err != nil {
				t.Fatal(err)
			}
			if a.TypeUrl != "type.googleapis.com/gatehouse.ir.v1."+string(id.Kind) {
				t.Fatalf("type URL %q", a.TypeUrl)
			}
			m, err := a.UnmarshalNew()
			if err != nil {
				t.Fatal(err)
			}
			assertAllSet(t, string(id.Kind), m.ProtoReflect())
			back, err := FromProto(a)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, back) {
				t.Fatalf("round trip differs:\n in  %#v\n out %#v", r, back)
			}
		})
	}
}

func TestRoundTripZeroValues(t *testing.T) {
	for _, r := range []ir.Resource{&ir.Bind{Name: "b"}, &ir.Listener{Name: "l"}, &ir.Certificate{Name: "c"},
		&ir.Route{Name: "r"}, &ir.Backend{Name: "k"}} {
		a, err := ToProto(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := FromProto(a)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, back) {
			t.Fatalf("%s: got %#v", r.ResourceID(), back)
		}
	}
}

func TestFromProtoRejects(t *testing.T) {
	good, _ := ToProto(&ir.Route{Name: "r"})
	cases := map[string]func() error{
		"foreign type URL": func() error {
			bad := &anypb.Any{TypeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster", Value: good.Value}
			_, err := FromProto(bad)
			return err
		},
		"garbage bytes": func() error {
			bad := &anypb.Any{TypeUrl: good.TypeUrl, Value: []byte{0xff, 0xff, 0xff}}
			_, err := FromProto(bad)
			return err
		},
		"no name": func() error {
			a, _ := ToProto(&ir.Route{RouteName: "x"})
			_, err := FromProto(a)
			return err
		},
		"nil": func() error { _, err := FromProto(nil); return err },
		"retry without attempts": func() error {
			a, _ := ToProto(&ir.Route{Name: "r", Retry: &ir.Retry{Codes: []int{503}}})
			_, err := FromProto(a)
			return err
		},
		"negative retry backoff": func() error {
			a, _ := ToProto(&ir.Route{Name: "r", Retry: &ir.Retry{Attempts: 1, Backoff: -time.Second}})
			_, err := FromProto(a)
			return err
		},
	}
	for name, c := range cases {
		if c() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRejectionsStatusRoundTrip(t *testing.T) {
	in := []ir.Rejection{{ID: ir.ID{Kind: ir.KindRoute, Name: "ns/r/0"}, Reason: "bad regex"},
		{ID: ir.ID{Kind: ir.KindCertificate, Name: "ns/c"}, Reason: "no key"}}
	st := RejectionsToStatus(in)
	if st == nil || st.Message == "" {
		t.Fatalf("status %v", st)
	}
	if got := RejectionsFromStatus(st); !reflect.DeepEqual(got, in) {
		t.Fatalf("got %v", got)
	}
	if RejectionsToStatus(nil) != nil {
		t.Fatal("ACK encoded as a status")
	}
	st.Details = nil
	if got := RejectionsFromStatus(st); len(got) != 1 || got[0].Reason != st.Message {
		t.Fatalf("foreign status decoded as %v", got)
	}
}

func FuzzFromProto(f *testing.F) {
	for _, r := range filled() {
		a, _ := ToProto(r)
		f.Add(uint8(0), a.Value)
	}
	f.Add(uint8(3), []byte{0x0a, 0x01, 'r', 0x2a, 0x04, 0x08, 0xff, 0xff, 0x7f})
	kinds := []ir.Kind{ir.KindBind, ir.KindListener, ir.KindCertificate, ir.KindRoute, ir.KindBackend}
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		for i := range kinds {
			kind := kinds[(int(k)+i)%len(kinds)]
			a := &anypb.Any{TypeUrl: TypeURL(kind), Value: data}
			r, err := FromProto(a)
			if err != nil {
				continue
			}
			// Whatever decodes must encode again and decode to the same value.
			a2, err := ToProto(r)
			if err != nil {
				t.Fatalf("re-encode %s: %v", kind, err)
			}
			r2, err := FromProto(a2)
			if err != nil {
				t.Fatalf("re-decode %s: %v", kind, err)
			}
			if !reflect.DeepEqual(r, r2) {
				t.Fatalf("%s not stable:\n%#v\n%#v", kind, r, r2)
			}
		}
	})
}
