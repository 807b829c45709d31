package validation

import (
	"testing"

	"google.golang.org/protobuf/proto"

	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func validTemplate() *corev1.PodTemplateSpec {
	spec := validPodSpec()
	spec.ActiveDeadlineSeconds = nil
	return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}}, Spec: spec}
}

func validDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{Metadata: meta("web"), Spec: &appsv1.DeploymentSpec{
		Replicas: proto.Int32(3),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"},
			MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"front", "edge"}}}},
		Template: validTemplate(),
		Strategy: &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: intOrStr("25%"), MaxSurge: intOrStr(1)}},
		MinReadySeconds: 5, RevisionHistoryLimit: proto.Int32(10), ProgressDeadlineSeconds: proto.Int32(600),
	}}
}

func TestDeployment(t *testing.T) {
	ru := func(d *appsv1.Deployment) *appsv1.RollingUpdateDeployment { return d.Spec.Strategy.RollingUpdate }
	runCreateCases(t, validDeployment, ValidateDeployment, []kindCase[*appsv1.Deployment]{
		{name: "negative replicas", mutate: func(d *appsv1.Deployment) { d.Spec.Replicas = proto.Int32(-1) }, want: []string{"spec.replicas: Invalid value"},
			msgs: []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{name: "zero replicas", mutate: func(d *appsv1.Deployment) { d.Spec.Replicas = proto.Int32(0) }},
		{name: "no selector", mutate: func(d *appsv1.Deployment) { d.Spec.Selector = nil }, want: []string{"spec.selector: Required value"}},
		{name: "empty selector", mutate: func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			want: []string{"spec.selector: Invalid value"}, msgs: []string{"spec.selector: Invalid value: <none>: empty selector is invalid for deployment"}},
		{name: "selector does not match", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Metadata.Labels = map[string]string{"app": "x"} },
			want: []string{"spec.template.metadata.labels: Invalid value"},
			msgs: []string{`spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: selector does not match template labels`}},
		{name: "expression does not match", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Metadata.Labels["tier"] = "back" },
			want: []string{"spec.template.metadata.labels: Invalid value"}},
		{name: "bad selector", mutate: func(d *appsv1.Deployment) { d.Spec.Selector.MatchExpressions[0].Operator = "in" },
			want: []string{"spec.selector.matchExpressions[0].operator: Invalid value"}},
		{name: "selector In without values", mutate: func(d *appsv1.Deployment) { d.Spec.Selector.MatchExpressions[0].Values = nil },
			want: []string{"spec.selector.matchExpressions[0].values: Required value"}},
		{name: "selector Exists with values", mutate: func(d *appsv1.Deployment) { d.Spec.Selector.MatchExpressions[0].Operator = "Exists" },
			want: []string{"spec.selector.matchExpressions[0].values: Forbidden"}},
		{name: "selector label", mutate: func(d *appsv1.Deployment) { d.Spec.Selector.MatchLabels["app"] = "-" },
			want: []string{"spec.selector.matchLabels[app]: Invalid value"}},
		{name: "no template", mutate: func(d *appsv1.Deployment) { d.Spec.Template = nil }, want: []string{"spec.template: Required value"}},
		{name: "template pod spec", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			want: []string{"spec.template.spec.containers[0].image: Required value"}, msgs: []string{"spec.template.spec.containers[0].image: Required value"}},
		{name: "template label", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Metadata.Labels["x"] = "a b" },
			want: []string{"spec.template.metadata.labels[x]: Invalid value"}},
		{name: "restart policy", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = "OnFailure" },
			want: []string{"spec.template.spec.restartPolicy: Unsupported value"},
			msgs: []string{`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`}},
		{name: "active deadline", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = proto.Int64(10) },
			want: []string{"spec.template.spec.activeDeadlineSeconds: Invalid value"}},
		{name: "strategy type", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, want: []string{"spec.strategy.type: Unsupported value"}},
		{name: "Recreate", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: "Recreate"} }},
		{name: "Recreate with rollingUpdate", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "Recreate" },
			want: []string{"spec.strategy.rollingUpdate: Forbidden"}},
		{name: "rolling without parameters", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate = nil },
			want: []string{"spec.strategy.rollingUpdate: Required value"}},
		{name: "maxSurge negative", mutate: func(d *appsv1.Deployment) { ru(d).MaxSurge = intOrStr(-1) }, want: []string{"spec.strategy.rollingUpdate.maxSurge: Invalid value"}},
		{name: "maxSurge 200%", mutate: func(d *appsv1.Deployment) { ru(d).MaxSurge = intOrStr("200%") }},
		{name: "maxUnavailable not a percent", mutate: func(d *appsv1.Deployment) { ru(d).MaxUnavailable = intOrStr("25") },
			want: []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{name: "maxUnavailable over 100%", mutate: func(d *appsv1.Deployment) { ru(d).MaxUnavailable = intOrStr("101%") },
			want: []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"},
			msgs: []string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "101%": must not be greater than 100%`}},
		{name: "maxUnavailable huge percent", mutate: func(d *appsv1.Deployment) { ru(d).MaxUnavailable = intOrStr("99999999999999999999%") },
			want: []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{name: "both zero", mutate: func(d *appsv1.Deployment) { ru(d).MaxUnavailable, ru(d).MaxSurge = intOrStr("0%"), intOrStr(0) },
			want: []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"},
			msgs: []string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when ` + "`maxSurge` is 0"}},
		{name: "maxSurge unset", mutate: func(d *appsv1.Deployment) { ru(d).MaxSurge = nil }, want: []string{"spec.strategy.rollingUpdate.maxSurge: Required value"}},
		{name: "revision history", mutate: func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = proto.Int32(-1) }, want: []string{"spec.revisionHistoryLimit: Invalid value"}},
		{name: "min ready", mutate: func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -1 }, want: []string{"spec.minReadySeconds: Invalid value"}},
		{name: "progress deadline", mutate: func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = proto.Int32(5) },
			want: []string{"spec.progressDeadlineSeconds: Invalid value"}, msgs: []string{"spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"}},
		{name: "nil spec", mutate: func(d *appsv1.Deployment) { d.Spec = nil },
			want: []string{"spec.selector: Required value", "spec.template: Required value", "spec.strategy.type: Required value"}},
	})
	runUpdateCases(t, validDeployment, ValidateObjectUpdate, []updateCase[*appsv1.Deployment]{
		{name: "template and replicas", mutate: func(d *appsv1.Deployment) {
			d.Spec.Replicas = proto.Int32(5)
			d.Spec.Template.Spec.Containers[0].Env[0].Value = "dev"
			d.Spec.Template.Metadata.Labels["version"] = "2"
		}},
		{name: "selector", mutate: func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels["app"] = "x"
			d.Spec.Template.Metadata.Labels["app"] = "x"
		},
			want: []string{"spec.selector: Invalid value"}, msgs: []string{"spec.selector: Invalid value: app=x,tier in (front,edge): field is immutable"}},
	})
	runUpdateCases(t, validDeployment, ValidateStatusUpdate, []updateCase[*appsv1.Deployment]{
		{name: "status", mutate: func(d *appsv1.Deployment) {
			d.Status = &appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2,
				UnavailableReplicas: 1, CollisionCount: proto.Int32(1)}
		}},
		{name: "counts", mutate: func(d *appsv1.Deployment) {
			d.Status = &appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 2, UnavailableReplicas: -1}
		}, want: []string{"status.updatedReplicas: Invalid value", "status.availableReplicas: Invalid value", "status.availableReplicas: Invalid value",
			"status.unavailableReplicas: Invalid value"}},
		{name: "collision count decremented", old: func(d *appsv1.Deployment) { d.Status = &appsv1.DeploymentStatus{CollisionCount: proto.Int32(2)} },
			mutate: func(d *appsv1.Deployment) { d.Status.CollisionCount = proto.Int32(1) }, want: []string{"status.collisionCount: Invalid value"}},
	})
}

func validReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{Metadata: meta("web-7d9f8c"), Spec: &appsv1.ReplicaSetSpec{
		Replicas: proto.Int32(2), MinReadySeconds: 0,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "7d9f8c"}},
		Template: func() *corev1.PodTemplateSpec {
			t := validTemplate()
			t.Metadata.Labels["pod-template-hash"] = "7d9f8c"
			return t
		}(),
	}}
}

func TestReplicaSet(t *testing.T) {
	runCreateCases(t, validReplicaSet, ValidateReplicaSet, []kindCase[*appsv1.ReplicaSet]{
		{name: "negative replicas", mutate: func(r *appsv1.ReplicaSet) { r.Spec.Replicas = proto.Int32(-2) }, want: []string{"spec.replicas: Invalid value"}},
		{name: "min ready", mutate: func(r *appsv1.ReplicaSet) { r.Spec.MinReadySeconds = -1 }, want: []string{"spec.minReadySeconds: Invalid value"}},
		{name: "no selector", mutate: func(r *appsv1.ReplicaSet) { r.Spec.Selector = nil }, want: []string{"spec.selector: Required value"}},
		{name: "empty selector", mutate: func(r *appsv1.ReplicaSet) { r.Spec.Selector.MatchLabels = nil }, want: []string{"spec.selector: Invalid value"}},
		{name: "mismatch", mutate: func(r *appsv1.ReplicaSet) { delete(r.Spec.Template.Metadata.Labels, "pod-template-hash") },
			want: []string{"spec.template.metadata.labels: Invalid value"}},
		{name: "restart policy", mutate: func(r *appsv1.ReplicaSet) { r.Spec.Template.Spec.RestartPolicy = "Never" },
			want: []string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{name: "template container", mutate: func(r *appsv1.ReplicaSet) { r.Spec.Template.Spec.Containers = nil },
			want: []string{"spec.template.spec.containers: Required value"}},
	})
	runUpdateCases(t, validReplicaSet, ValidateObjectUpdate, []updateCase[*appsv1.ReplicaSet]{
		{name: "scale", mutate: func(r *appsv1.ReplicaSet) { r.Spec.Replicas = proto.Int32(0) }},
		{name: "owner added", mutate: func(r *appsv1.ReplicaSet) {
			r.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "Deployment", Name: "web", Uid: "u-9", Controller: proto.Bool(true)}}
		}},
		{name: "selector", mutate: func(r *appsv1.ReplicaSet) {
			r.Spec.Selector.MatchExpressions = []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Exists"}}
		}, want: []string{"spec.selector: Invalid value"}},
	})
	runUpdateCases(t, validReplicaSet, ValidateStatusUpdate, []updateCase[*appsv1.ReplicaSet]{
		{name: "status", mutate: func(r *appsv1.ReplicaSet) {
			r.Status = &appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 1}
		}},
		{name: "counts", mutate: func(r *appsv1.ReplicaSet) {
			r.Status = &appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 2, ReadyReplicas: 0, AvailableReplicas: 1, ObservedGeneration: -1}
		}, want: []string{"status.fullyLabeledReplicas: Invalid value", "status.availableReplicas: Invalid value", "status.observedGeneration: Invalid value"}},
	})
}
