// Package policy compiles TrafficPolicies (ir.Policy) once per config and
// applies them per request: pre-routing headers before route selection,
// then authorization and request/response transformations after it.
//
// Precedence: authorization policies attached at every level apply (a
// request must pass each, gateway first). For transformations and
// pre-routing, the most specific policy that has the section wins: route
// rule, then route, then listener, then Gateway; between policies on the same
// target the oldest wins, then the one first by namespace/name.
package policy

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"sync"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/ir"
)

// Set is an immutable, compiled set of policies indexed by target.
type Set struct {
	byTarget map[ir.PolicyTarget][]*Compiled
	all      map[string]*Compiled
}

// Compiled is one policy with its programs.
type Compiled struct {
	IR                   *ir.Policy
	allow, deny, require []*cel.Program
	denyAll              bool // authorization did not compile: fail closed
	reqTransform         *transform
	respTransform        *transform
	preRouting           []header
	preBody              ir.PreRoutingBody
	uses                 cel.Uses
	hasAuth, hasPre      bool
	jwt                  *jwtVerifier
	accessLog            *accessLog
}

type header struct {
	name string // canonical
	prog *cel.Program
}

type transform struct {
	set, add []header
	remove   []string
	body     *cel.Program
}

var sharedEnv = sync.OnceValues(cel.NewEnv)

// anyType converts CEL values to their natural Go value for JSON.
var anyType = reflect.TypeFor[any]()

// Empty is a Set with no policies.
var Empty = &Set{byTarget: map[ir.PolicyTarget][]*Compiled{}, all: map[string]*Compiled{}}

// Update returns a new Set with upserts compiled and removes dropped. A
// policy that fails to compile is rejected and its previous version kept.
func (s *Set) Update(upserts []*ir.Policy, removes []string) (*Set, []ir.Rejection) {
	env, err := sharedEnv()
	if err != nil {
		return s, []ir.Rejection{{ID: ir.ID{Kind: ir.KindPolicy}, Reason: "CEL environment: " + err.Error()}}
	}
	all := make(map[string]*Compiled, len(s.all)+len(upserts))
	for k, v := range s.all {
		all[k] = v
	}
	for _, name := range removes {
		delete(all, name)
	}
	var rej []ir.Rejection
	for _, p := range upserts {
		c, err := compile(env, p)
		if err != nil {
			rej = append(rej, ir.Rejection{ID: p.ResourceID(), Reason: err.Error()})
			continue
		}
		all[p.Name] = c
	}
	next := &Set{byTarget: map[ir.PolicyTarget][]*Compiled{}, all: all}
	for _, c := range all {
		for _, t := range c.IR.Targets {
			next.byTarget[t] = append(next.byTarget[t], c)
		}
	}
	for _, list := range next.byTarget {
		sort.Slice(list, func(a, b int) bool { return older(list[a].IR, list[b].IR) })
	}
	return next, rej
}

func older(a, b *ir.Policy) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	return a.Name < b.Name
}

// Len returns the number of policies.
func (s *Set) Len() int { return len(s.all) }

func compile(env *cel.Env, p *ir.Policy) (*Compiled, error) {
	c := &Compiled{IR: p}
	var err error
	if a := p.Authorization; a != nil {
		c.hasAuth = true
		if a.Invalid != "" {
			c.denyAll = true
		} else {
			if c.allow, err = c.programs(env, a.Allow, cel.BoolType); err != nil {
				return nil, err
			}
			if c.deny, err = c.programs(env, a.Deny, cel.BoolType); err != nil {
				return nil, err
			}
			if c.require, err = c.programs(env, a.Require, cel.BoolType); err != nil {
				return nil, err
			}
		}
	}
	if c.reqTransform, err = c.transform(env, p.RequestHeaders); err != nil {
		return nil, err
	}
	if c.respTransform, err = c.transform(env, p.ResponseHeaders); err != nil {
		return nil, err
	}
	if c.preRouting, err = c.headers(env, p.PreRouting); err != nil {
		return nil, err
	}
	if p.PreRoutingBody != nil {
		c.preBody = *p.PreRoutingBody
	}
	c.hasPre = len(c.preRouting) > 0 || c.preBody.ModelHeader != ""
	if err = c.compileAccessLog(env, p.AccessLog); err != nil {
		return nil, fmt.Errorf("policy %s: access log: %w", p.Name, err)
	}
	if p.JWT != nil {
		if c.jwt, err = newJWTVerifier(p.JWT); err != nil {
			return nil, fmt.Errorf("policy %s: %w", p.Name, err)
		}
	}
	return c, nil
}

func (c *Compiled) programs(env *cel.Env, exprs []string, want cel.OutputType) ([]*cel.Program, error) {
	out := make([]*cel.Program, 0, len(exprs))
	for _, e := range exprs {
		p, err := env.Compile(e, want)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", c.IR.Name, err)
		}
		c.uses = c.uses.Merge(p.Uses())
		out = append(out, p)
	}
	return out, nil
}

func (c *Compiled) headers(env *cel.Env, hs []ir.CELHeader) ([]header, error) {
	out := make([]header, 0, len(hs))
	for _, h := range hs {
		p, err := env.Compile(h.Expr, cel.StringType)
		if err != nil {
			return nil, fmt.Errorf("policy %s: header %s: %w", c.IR.Name, h.Name, err)
		}
		c.uses = c.uses.Merge(p.Uses())
		out = append(out, header{name: http.CanonicalHeaderKey(h.Name), prog: p})
	}
	return out, nil
}

func (c *Compiled) transform(env *cel.Env, t *ir.CELTransform) (*transform, error) {
	if t == nil {
		return nil, nil
	}
	out := &transform{}
	var err error
	if out.set, err = c.headers(env, t.Set); err != nil {
		return nil, err
	}
	if out.add, err = c.headers(env, t.Add); err != nil {
		return nil, err
	}
	for _, r := range t.Remove {
		out.remove = append(out.remove, http.CanonicalHeaderKey(r))
	}
	if t.Body != "" {
		if out.body, err = env.Compile(t.Body, cel.BodyType); err != nil {
			return nil, fmt.Errorf("policy %s: body: %w", c.IR.Name, err)
		}
		c.uses = c.uses.Merge(out.body.Uses())
	}
	return out, nil
}
