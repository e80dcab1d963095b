package wire

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"

	irv1 "gatehouse.dev/gatehouse/api/proto/gatehouse/ir/v1"
	"gatehouse.dev/gatehouse/internal/ir"
)

// RejectionsToStatus encodes a NACK: a google.rpc.Status whose message
// summarises the reasons and whose details hold one gatehouse.ir.v1.Rejection
// per refused resource. It returns nil for no rejections (an ACK).
func RejectionsToStatus(rej []ir.Rejection) *status.Status {
	if len(rej) == 0 {
		return nil
	}
	st := &status.Status{Code: int32(codes.InvalidArgument)}
	msgs := make([]string, 0, len(rej))
	for _, r := range rej {
		msgs = append(msgs, r.ID.String()+": "+r.Reason)
		a, err := anypb.New(&irv1.Rejection{Kind: string(r.ID.Kind), Name: r.ID.Name, Reason: r.Reason})
		if err == nil {
			st.Details = append(st.Details, a)
		}
	}
	st.Message = strings.Join(msgs, "; ")
	return st
}

// RejectionsFromStatus decodes a NACK written by RejectionsToStatus. A status
// from another client (no Rejection details) becomes one rejection without an
// ID whose reason is the status message, so the NACK is never lost.
func RejectionsFromStatus(st *status.Status) []ir.Rejection {
	if st == nil {
		return nil
	}
	var out []ir.Rejection
	for _, d := range st.Details {
		var m irv1.Rejection
		if d.MessageIs(&m) && d.UnmarshalTo(&m) == nil {
			out = append(out, ir.Rejection{ID: ir.ID{Kind: ir.Kind(m.Kind), Name: m.Name}, Reason: m.Reason})
		}
	}
	if len(out) == 0 {
		reason := st.Message
		if reason == "" {
			reason = "rejected without a reason (code " + codes.Code(st.Code).String() + ")"
		}
		out = append(out, ir.Rejection{Reason: reason})
	}
	return out
}
