package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// StaticBackendList is a list of StaticBackends, as returned by a list call.
type StaticBackendList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []StaticBackend `json:"items"`
}

// DeepCopyInto copies l into out; out shares no memory with l afterwards.
func (l *StaticBackendList) DeepCopyInto(out *StaticBackendList) {
	out.TypeMeta = l.TypeMeta
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items == nil {
		out.Items = nil
		return
	}
	out.Items = make([]StaticBackend, len(l.Items))
	for i := range l.Items {
		// StaticBackend only has DeepCopyObject; it returns a fresh copy.
		out.Items[i] = *l.Items[i].DeepCopyObject().(*StaticBackend)
	}
}

// DeepCopy returns a deep copy of l.
func (l *StaticBackendList) DeepCopy() *StaticBackendList {
	if l == nil {
		return nil
	}
	out := new(StaticBackendList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *StaticBackendList) DeepCopyObject() runtime.Object {
	if c := l.DeepCopy(); c != nil {
		return c
	}
	return nil
}
