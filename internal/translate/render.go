package translate

import (
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/source"
)

// Output is the printable result of a translation: config problems, the IR
// and every status. `gatehouse translate` prints it; golden tests compare it.
type Output struct {
	Problems []source.Problem `json:"problems,omitempty"`
	IR       []IREntry        `json:"ir"`
	Status   []ObjectStatus   `json:"status"`
}

// IREntry is one IR resource with its kind spelled out.
type IREntry struct {
	Kind     ir.Kind     `json:"kind"`
	Resource ir.Resource `json:"resource"`
}

// RenderYAML renders the current snapshot and the given problems as YAML.
// rejected is true when there is any problem or any object is rejected.
func (t *Translator) RenderYAML(problems []source.Problem) (out []byte, rejected bool, err error) {
	snap := t.Snapshot()
	o := Output{Problems: problems, IR: []IREntry{}, Status: snap.Status}
	for _, r := range snap.IR {
		o.IR = append(o.IR, IREntry{Kind: r.ResourceID().Kind, Resource: r})
	}
	rejected = len(problems) > 0
	for _, s := range snap.Status {
		rejected = rejected || s.Rejected()
	}
	out, err = yaml.Marshal(o)
	return out, rejected, err
}
