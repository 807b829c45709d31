package deployutil

import (
	"testing"

	"google.golang.org/protobuf/proto"

	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func tmpl(image, hash string) *corev1.PodTemplateSpec {
	l := map[string]string{"app": "web"}
	if hash != "" {
		l[PodTemplateHashLabel] = hash
	}
	return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: l},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: image}}}}
}

func rs(name, rev, uid string, controller bool, t *corev1.PodTemplateSpec) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: name, Annotations: map[string]string{RevisionAnnotation: rev},
		OwnerReferences: []*metav1.OwnerReference{{Kind: "Deployment", Name: "web", Uid: uid, Controller: proto.Bool(controller)}}},
		Spec: &appsv1.ReplicaSetSpec{Template: t}}
}

func TestNewAndOld(t *testing.T) {
	d := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web", Uid: "d1"}, Spec: &appsv1.DeploymentSpec{Template: tmpl("nginx:2", "")}}
	all := []*appsv1.ReplicaSet{
		rs("web-b", "2", "d1", true, tmpl("nginx:2", "bbb")),
		rs("web-a", "1", "d1", true, tmpl("nginx:1", "aaa")),
		rs("other", "9", "d2", true, tmpl("nginx:2", "ccc")),
		rs("not-controller", "3", "d1", false, tmpl("nginx:2", "ddd")),
		rs("web-x", "junk", "d1", true, tmpl("nginx:0", "xxx")),
	}
	owned := Owned(d, all)
	var names []string
	for _, r := range owned {
		names = append(names, r.Metadata.Name)
	}
	if got := names; len(got) != 3 || got[0] != "web-x" || got[1] != "web-a" || got[2] != "web-b" {
		t.Fatalf("Owned = %v, want [web-x web-a web-b] (sorted by revision, junk revision = 0)", got)
	}
	newRS, old := NewAndOld(d, owned)
	if newRS == nil || newRS.Metadata.Name != "web-b" || len(old) != 2 {
		t.Fatalf("new = %v, old = %d", newRS.GetMetadata().GetName(), len(old))
	}
	if Revision(all[4]) != 0 || Revision(all[0]) != 2 {
		t.Errorf("Revision wrong")
	}
	stripped := TemplateWithoutHash(tmpl("i", "h"))
	if _, ok := stripped.Metadata.Labels[PodTemplateHashLabel]; ok || stripped.Metadata.Labels["app"] != "web" {
		t.Errorf("TemplateWithoutHash = %v", stripped.Metadata.Labels)
	}
}
