package policy

import (
	"encoding/json"
	"time"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/ir"
)

// accessLog is a compiled access-log section.
type accessLog struct {
	names  []string
	fields []*cel.Program
	filter *cel.Program
}

func (c *Compiled) compileAccessLog(env *cel.Env, al *ir.PolicyAccessLog) error {
	if al == nil {
		return nil
	}
	out := &accessLog{}
	for _, f := range al.Fields {
		p, err := env.Compile(f.Expr, cel.AnyType)
		if err != nil {
			return err
		}
		c.uses = c.uses.Merge(p.Uses())
		out.names = append(out.names, f.Name)
		out.fields = append(out.fields, p)
	}
	if al.Filter != "" {
		p, err := env.Compile(al.Filter, cel.BoolType)
		if err != nil {
			return err
		}
		c.uses = c.uses.Merge(p.Uses())
		out.filter = p
	}
	c.accessLog = out
	return nil
}

// AccessLogLine evaluates the most specific access-log section; it returns
// nil when no section applies or the filter is false. ctx.Response must be
// set. A field that fails is omitted; a failing filter logs the line.
func (a Applicable) AccessLogLine(ctx *cel.Context, policyTime time.Time) []byte {
	var al *accessLog
	for i := len(a) - 1; i >= 0 && al == nil; i-- {
		al = a[i].accessLog
	}
	if al == nil {
		return nil
	}
	if al.filter != nil {
		if keep, err := al.filter.EvalBool(ctx); err == nil && !keep {
			return nil
		}
	}
	line := make(map[string]any, len(al.fields)+1)
	line["time"] = policyTime.UTC().Format(time.RFC3339Nano)
	for i, p := range al.fields {
		v, err := p.Eval(ctx)
		if err != nil {
			continue
		}
		native, err := v.ConvertToNative(anyType)
		if err != nil {
			continue
		}
		line[al.names[i]] = native
	}
	b, err := json.Marshal(line)
	if err != nil {
		return nil
	}
	return append(b, '\n')
}

// HasAccessLog reports whether an access-log section applies.
func (a Applicable) HasAccessLog() bool {
	for _, c := range a {
		if c.accessLog != nil {
			return true
		}
	}
	return false
}
