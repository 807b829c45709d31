package deployment

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func intstr(i int32) *metav1.IntOrString {
	return &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: i}}
}
func pct(s string) *metav1.IntOrString {
	return &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: s}}
}

func TestResolveFenceposts(t *testing.T) {
	tests := []struct {
		name                string
		surge, unavail      *metav1.IntOrString
		desired             int32
		wantSurge, wantUnav int32
		wantErr             bool
	}{
		{"25% of 10", pct("25%"), pct("25%"), 10, 3, 2, false},
		{"25% of 4", pct("25%"), pct("25%"), 4, 1, 1, false},
		{"25% of 3 rounds surge up, unavailable down", pct("25%"), pct("25%"), 3, 1, 0, false},
		{"integers", intstr(3), intstr(2), 10, 3, 2, false},
		{"both zero: unavailable becomes 1", intstr(0), intstr(0), 10, 0, 1, false},
		{"both resolve to zero", pct("0%"), pct("10%"), 5, 0, 1, false},
		{"unset counts as zero", nil, nil, 10, 0, 1, false},
		{"100%", pct("100%"), pct("100%"), 7, 7, 7, false},
		{"surge rounds up from a fraction", pct("1%"), intstr(0), 10, 1, 0, false},
		{"not a percentage", pct("25"), pct("25%"), 10, 0, 0, true},
		{"bad number", pct("x%"), pct("25%"), 10, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, u, err := ResolveFenceposts(tt.surge, tt.unavail, tt.desired)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (s != tt.wantSurge || u != tt.wantUnav) {
				t.Fatalf("got surge %d unavailable %d, want %d %d", s, u, tt.wantSurge, tt.wantUnav)
			}
		})
	}
}

func deploy(replicas int32, surge, unavail *metav1.IntOrString) *appsv1.Deployment {
	return &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 1},
		Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(replicas),
			Strategy: &appsv1.DeploymentStrategy{Type: RollingUpdate, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavail}}},
		Status: &appsv1.DeploymentStatus{}}
}

func TestMaxSurgeMaxUnavailable(t *testing.T) {
	tests := []struct {
		name               string
		d                  *appsv1.Deployment
		surge, unavailable int32
	}{
		{"defaults (25%) of 10", deploy(10, nil, nil), 3, 2},
		{"explicit", deploy(10, intstr(3), intstr(2)), 3, 2},
		{"unavailable capped at replicas", deploy(3, intstr(1), intstr(5)), 1, 3},
		{"zero replicas", deploy(0, intstr(1), intstr(1)), 1, 0},
		{"recreate", func() *appsv1.Deployment {
			d := deploy(10, intstr(3), intstr(2))
			d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: Recreate}
			return d
		}(), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, u := MaxSurge(tt.d), MaxUnavailable(tt.d); s != tt.surge || u != tt.unavailable {
				t.Fatalf("MaxSurge %d MaxUnavailable %d, want %d %d", s, u, tt.surge, tt.unavailable)
			}
		})
	}
}

func TestSafeEncodeString(t *testing.T) {
	if got := SafeEncodeString("0123456789"); got != "456789bcdf" {
		t.Fatalf("SafeEncodeString(digits) = %q, want %q", got, "456789bcdf")
	}
}

func template(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: image}}}}
}

func TestPodTemplateHash(t *testing.T) {
	h1 := PodTemplateHash(template("demo:v1"), nil)
	if h1 != PodTemplateHash(template("demo:v1"), nil) {
		t.Fatal("hash is not stable")
	}
	if strings.Trim(h1, safeAlphabet) != "" || len(h1) == 0 || len(h1) > 10 {
		t.Fatalf("hash %q is not a SafeEncodeString of a uint32", h1)
	}
	for name, other := range map[string]string{
		"other image":     PodTemplateHash(template("demo:v2"), nil),
		"collisionCount":  PodTemplateHash(template("demo:v1"), proto.Int32(1)),
		"collisionCount2": PodTemplateHash(template("demo:v1"), proto.Int32(2)),
	} {
		if other == h1 {
			t.Errorf("%s: same hash %q", name, h1)
		}
	}
	// Defaults do not change the hash: the apiserver may or may not have filled them.
	defaulted := template("demo:v1")
	defaulted.Spec.RestartPolicy = "Always"
	defaulted.Spec.DnsPolicy = "ClusterFirst"
	if got := PodTemplateHash(defaulted, nil); got != h1 {
		t.Errorf("defaulted template hashes to %q, want %q", got, h1)
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	withHash := template("demo:v1")
	withHash.Metadata.Labels[PodTemplateHashLabel] = "abc"
	tests := []struct {
		name string
		a, b *corev1.PodTemplateSpec
		want bool
	}{
		{"same", template("demo:v1"), template("demo:v1"), true},
		{"hash label ignored", withHash, template("demo:v1"), true},
		{"image differs", template("demo:v1"), template("demo:v2"), false},
		{"label differs", template("demo:v1"), func() *corev1.PodTemplateSpec {
			t := template("demo:v1")
			t.Metadata.Labels["tier"] = "x"
			return t
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EqualIgnoreHash(tt.a, tt.b); got != tt.want {
				t.Fatalf("EqualIgnoreHash = %v, want %v", got, tt.want)
			}
		})
	}
	if _, ok := withHash.Metadata.Labels[PodTemplateHashLabel]; !ok {
		t.Fatal("EqualIgnoreHash modified its argument")
	}
}

// rs builds a ReplicaSet with replicas, a max-replicas annotation (0: none) and a creation time offset.
func rs(name string, replicas, maxReplicas int32, age time.Duration) *appsv1.ReplicaSet {
	r := &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: name, Uid: name, Annotations: map[string]string{},
		CreationTimestamp: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-age))},
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(replicas)}, Status: &appsv1.ReplicaSetStatus{}}
	if maxReplicas > 0 {
		r.Metadata.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	}
	return r
}

func TestProportionalSizes(t *testing.T) {
	tests := []struct {
		name   string
		d      *appsv1.Deployment
		active []*appsv1.ReplicaSet
		want   map[string]int32
		op     string
	}{
		{"scale up 10 to 20 mid-rollout", deploy(20, intstr(3), intstr(2)),
			[]*appsv1.ReplicaSet{rs("old", 5, 13, time.Hour), rs("new", 8, 13, 0)},
			map[string]int32{"new": 14, "old": 9}, "up"},
		{"scale down 10 to 5 mid-rollout", deploy(5, intstr(1), intstr(0)),
			[]*appsv1.ReplicaSet{rs("old", 8, 13, time.Hour), rs("new", 5, 13, 0)},
			map[string]int32{"old": 4, "new": 2}, "down"},
		{"leftover goes to the biggest", deploy(11, intstr(0), intstr(1)),
			[]*appsv1.ReplicaSet{rs("a", 4, 10, 2*time.Hour), rs("b", 3, 10, time.Hour), rs("c", 3, 10, 0)},
			map[string]int32{"a": 5, "b": 3, "c": 3}, "up"},
		{"equal sizes scale up newer first", deploy(11, intstr(0), intstr(1)),
			[]*appsv1.ReplicaSet{rs("older", 5, 10, time.Hour), rs("newer", 5, 10, 0)},
			map[string]int32{"older": 5, "newer": 6}, "up"},
		{"equal sizes scale down older first", deploy(9, intstr(0), intstr(1)),
			[]*appsv1.ReplicaSet{rs("older", 5, 10, time.Hour), rs("newer", 5, 10, 0)},
			map[string]int32{"older": 4, "newer": 5}, "down"},
		{"to zero", deploy(0, intstr(3), intstr(2)),
			[]*appsv1.ReplicaSet{rs("old", 8, 13, time.Hour), rs("new", 5, 13, 0)},
			map[string]int32{"old": 0, "new": 0}, "down"},
		{"nothing to add", deploy(10, intstr(3), intstr(2)),
			[]*appsv1.ReplicaSet{rs("old", 8, 13, time.Hour), rs("new", 5, 13, 0)},
			map[string]int32{"old": 8, "new": 5}, ""},
		{"no annotation: status.replicas is the reference", func() *appsv1.Deployment {
			d := deploy(20, intstr(0), intstr(1))
			d.Status.Replicas = 10
			return d
		}(), []*appsv1.ReplicaSet{rs("old", 5, 0, time.Hour), rs("new", 5, 0, 0)},
			map[string]int32{"old": 10, "new": 10}, "up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sizes, op := proportionalSizes(tt.d, tt.active)
			got := map[string]int32{}
			var total int32
			for _, s := range sizes {
				got[s.rs.Metadata.Name] = s.replicas
				total += s.replicas
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %d replicas, want %d (all: %v)", k, got[k], v, got)
				}
			}
			if op != tt.op {
				t.Errorf("op = %q, want %q", op, tt.op)
			}
			if allowed := Replicas(tt.d) + MaxSurge(tt.d); Replicas(tt.d) > 0 && total != allowed && tt.op != "" {
				t.Errorf("total %d, want replicas+maxSurge %d", total, allowed)
			}
		})
	}
}

func TestNewRSNewReplicas(t *testing.T) {
	withStatus := func(r *appsv1.ReplicaSet, statusReplicas int32) *appsv1.ReplicaSet {
		r.Status.Replicas = statusReplicas
		return r
	}
	tests := []struct {
		name string
		d    *appsv1.Deployment
		all  []*appsv1.ReplicaSet
		want int32
	}{
		{"fresh rollout uses the surge", deploy(10, intstr(3), intstr(2)), []*appsv1.ReplicaSet{rs("old", 10, 0, time.Hour), rs("new", 0, 0, 0)}, 3},
		{"at the limit", deploy(10, intstr(3), intstr(2)), []*appsv1.ReplicaSet{rs("old", 8, 0, time.Hour), rs("new", 5, 0, 0)}, 5},
		{"old scale-down not yet reflected in status", deploy(10, intstr(3), intstr(2)),
			[]*appsv1.ReplicaSet{withStatus(rs("old", 8, 0, time.Hour), 10), rs("new", 3, 0, 0)}, 3},
		{"old scale-down reflected", deploy(10, intstr(3), intstr(2)),
			[]*appsv1.ReplicaSet{withStatus(rs("old", 8, 0, time.Hour), 8), rs("new", 3, 0, 0)}, 5},
		{"never above replicas", deploy(10, intstr(3), intstr(2)), []*appsv1.ReplicaSet{rs("old", 0, 0, time.Hour), rs("new", 9, 0, 0)}, 10},
		{"recreate takes everything", func() *appsv1.Deployment {
			d := deploy(10, nil, nil)
			d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: Recreate}
			return d
		}(), []*appsv1.ReplicaSet{rs("new", 0, 0, 0)}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newRSNewReplicas(tt.d, tt.all, tt.all[len(tt.all)-1])
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("new replicas = %d, want %d", got, tt.want)
			}
		})
	}
}

func withRevision(r *appsv1.ReplicaSet, rev string) *appsv1.ReplicaSet {
	r.Metadata.Annotations[RevisionAnnotation] = rev
	return r
}

func TestRollbackTargetAndHistory(t *testing.T) {
	d := deploy(3, nil, nil)
	rss := []*appsv1.ReplicaSet{withRevision(rs("r2", 0, 0, 2*time.Hour), "2"), withRevision(rs("r4", 3, 0, 0), "4"),
		withRevision(rs("r1", 0, 0, 3*time.Hour), "1")}
	rss[0].Metadata.Annotations[ChangeCauseAnnotation] = "image v2"
	got, err := RollbackTarget(d, rss, 0)
	if err != nil || got.Metadata.Name != "r2" {
		t.Fatalf("previous revision = %v, %v; want r2", got.GetMetadata().GetName(), err)
	}
	if got, err := RollbackTarget(d, rss, 1); err != nil || got.Metadata.Name != "r1" {
		t.Fatalf("revision 1 = %v, %v; want r1", got.GetMetadata().GetName(), err)
	}
	if _, err := RollbackTarget(d, rss, 3); err == nil {
		t.Fatal("revision 3 found, want an error")
	}
	if _, err := RollbackTarget(d, rss[1:2], 0); err == nil {
		t.Fatal("rollback with a single revision succeeded, want an error")
	}
	h := History(rss)
	if len(h) != 3 || h[0].Revision != 1 || h[1].Revision != 2 || h[2].Revision != 4 || h[1].ChangeCause != "image v2" {
		t.Fatalf("History = %+v", h)
	}
	src := rs("x", 0, 0, 0)
	src.Spec.Template = template("demo:v1")
	src.Spec.Template.Metadata.Labels[PodTemplateHashLabel] = "abc"
	tmpl := RollbackTemplate(src)
	if _, ok := tmpl.Metadata.Labels[PodTemplateHashLabel]; ok || tmpl.Metadata.Labels["app"] != "web" {
		t.Fatalf("RollbackTemplate labels = %v", tmpl.Metadata.Labels)
	}
	if _, ok := src.Spec.Template.Metadata.Labels[PodTemplateHashLabel]; !ok {
		t.Fatal("RollbackTemplate modified the ReplicaSet")
	}
}

func TestRolloutStatus(t *testing.T) {
	mk := func(gen, observed int64, replicas, updated, available int32, reason string) *appsv1.Deployment {
		d := deploy(3, nil, nil)
		d.Metadata.Generation = gen
		d.Status = &appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated, AvailableReplicas: available}
		if reason != "" {
			d.Status.Conditions = []*metav1.Condition{{Type: ConditionProgressing, Reason: reason}}
		}
		return d
	}
	tests := []struct {
		name    string
		d       *appsv1.Deployment
		done    bool
		wantErr bool
		msg     string
	}{
		{"not observed", mk(2, 1, 3, 3, 3, ""), false, false, "Waiting for deployment spec update to be observed..."},
		{"updating", mk(1, 1, 4, 1, 3, ""), false, false, "1 out of 3 new replicas have been updated"},
		{"old pending", mk(1, 1, 4, 3, 3, ""), false, false, "1 old replicas are pending termination"},
		{"not available", mk(1, 1, 3, 3, 2, ""), false, false, "2 of 3 updated replicas are available"},
		{"done", mk(1, 1, 3, 3, 3, ReasonNewReplicaSetAvailable), true, false, "successfully rolled out"},
		{"deadline", mk(1, 1, 3, 1, 1, ReasonProgressDeadlineExceeded), false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, done, err := RolloutStatus(tt.d)
			if done != tt.done || (err != nil) != tt.wantErr || !strings.Contains(msg, tt.msg) {
				t.Fatalf("RolloutStatus = %q, %v, %v", msg, done, err)
			}
		})
	}
}
