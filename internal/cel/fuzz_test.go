package cel

import (
	"reflect"
	"testing"
)

var typeOfAnySlice = reflect.TypeOf([]any(nil))

// FuzzCompile: arbitrary expressions never panic at compile or evaluation.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`request.method == "GET"`, `request.headers["x"]`, `json(request.body).model`,
		`default(jwt.sub, "")`, `regexReplace(request.path, "a+", "b")`, `cidr("10.0.0.0/8").containsIP(source.address)`,
		`toJson(request)`, `request.headers.exists(k, k.startsWith("x-"))`, `((((`, `"\xff"`, `[1,2][5]`,
	} {
		f.Add(s)
	}
	env := testEnv(f)
	ctx := testContext()
	f.Fuzz(func(t *testing.T, expr string) {
		prg, err := env.Compile(expr, AnyType)
		if err != nil {
			return
		}
		_, _ = prg.Eval(ctx)
	})
}

// FuzzJSON: json() on arbitrary bytes never panics, and a value it accepts
// serialises back with toJson.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"model":"x"}`, `[1,2,{"a":null}]`, `"s"`, `1e400`, `{"a":`, "\x00", `{"a":{"b":{"c":[true]}}}`} {
		f.Add([]byte(s))
	}
	env := testEnv(f)
	prg, err := env.Compile(`toJson(json(request.body))`, StringType)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := &Context{Body: body}
		_, _ = prg.Eval(ctx)
	})
}
