package validation

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/coxswain/coxswain/pkg/api/validation/field"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Deployment strategy types.
const (
	RollingUpdateDeploymentStrategyType = "RollingUpdate"
	RecreateDeploymentStrategyType      = "Recreate"
)

// SelectorMismatchMsg is the detail of the error for a template whose labels the selector does not match.
const SelectorMismatchMsg = "selector does not match template labels"

// ValidateReplicaSet validates a new ReplicaSet: replicas and minReadySeconds not negative, a non-empty
// valid selector that matches the template's labels, and a template valid as a pod with restartPolicy
// Always.
func ValidateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := ValidateObjectMeta(rs.GetMetadata(), true, NameIsDNSSubdomain, metadataPath)
	spec := rs.GetSpec()
	if spec == nil {
		spec = &appsv1.ReplicaSetSpec{}
	}
	p := field.NewPath("spec")
	if spec.Replicas != nil {
		errs = append(errs, validateNonnegative(spec.GetReplicas(), p.Child("replicas"))...)
	}
	errs = append(errs, validateNonnegative(spec.GetMinReadySeconds(), p.Child("minReadySeconds"))...)
	return append(errs, validateSelectorAndTemplate("ReplicaSet", spec.GetSelector(), spec.GetTemplate(), p)...)
}

// ValidateReplicaSetUpdate: the ReplicaSet is valid and its selector does not change.
func ValidateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := ValidateObjectMetaUpdate(rs.GetMetadata(), old.GetMetadata(), metadataPath)
	errs = append(errs, ValidateReplicaSet(rs)...)
	return append(errs, validateSelectorImmutable(rs.GetSpec().GetSelector(), old.GetSpec().GetSelector())...)
}

// ValidateReplicaSetStatusUpdate validates a ReplicaSet status write: counts are not negative, and no
// count exceeds status.replicas (available ones not readyReplicas).
func ValidateReplicaSetStatusUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := ValidateObjectMetaUpdate(rs.GetMetadata(), old.GetMetadata(), metadataPath)
	st := rs.GetStatus()
	p := field.NewPath("status")
	errs = append(errs, validateNonnegative(st.GetReplicas(), p.Child("replicas"))...)
	errs = append(errs, validateNonnegative(st.GetFullyLabeledReplicas(), p.Child("fullyLabeledReplicas"))...)
	errs = append(errs, validateNonnegative(st.GetReadyReplicas(), p.Child("readyReplicas"))...)
	errs = append(errs, validateNonnegative(st.GetAvailableReplicas(), p.Child("availableReplicas"))...)
	errs = append(errs, validateNonnegative(st.GetObservedGeneration(), p.Child("observedGeneration"))...)
	const msg = "cannot be greater than status.replicas"
	if st.GetFullyLabeledReplicas() > st.GetReplicas() {
		errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), st.GetFullyLabeledReplicas(), msg))
	}
	if st.GetReadyReplicas() > st.GetReplicas() {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), st.GetReadyReplicas(), msg))
	}
	if st.GetAvailableReplicas() > st.GetReplicas() {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), st.GetAvailableReplicas(), msg))
	}
	if st.GetAvailableReplicas() > st.GetReadyReplicas() {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), st.GetAvailableReplicas(), "cannot be greater than readyReplicas"))
	}
	return errs
}

// ValidateDeployment validates a new Deployment: what ValidateReplicaSet checks, plus the strategy
// (RollingUpdate with maxSurge and maxUnavailable each an integer >= 0 or a percentage, maxUnavailable at
// most 100%, not both zero; or Recreate without rollingUpdate), revisionHistoryLimit >= 0 and
// progressDeadlineSeconds > minReadySeconds.
func ValidateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := ValidateObjectMeta(d.GetMetadata(), true, NameIsDNSSubdomain, metadataPath)
	spec := d.GetSpec()
	if spec == nil {
		spec = &appsv1.DeploymentSpec{}
	}
	p := field.NewPath("spec")
	if spec.Replicas != nil {
		errs = append(errs, validateNonnegative(spec.GetReplicas(), p.Child("replicas"))...)
	}
	errs = append(errs, validateSelectorAndTemplate("Deployment", spec.GetSelector(), spec.GetTemplate(), p)...)
	errs = append(errs, validateDeploymentStrategy(spec.GetStrategy(), p.Child("strategy"))...)
	errs = append(errs, validateNonnegative(spec.GetMinReadySeconds(), p.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, validateNonnegative(spec.GetRevisionHistoryLimit(), p.Child("revisionHistoryLimit"))...)
	}
	if spec.ProgressDeadlineSeconds != nil {
		v := spec.GetProgressDeadlineSeconds()
		if ne := validateNonnegative(v, p.Child("progressDeadlineSeconds")); len(ne) != 0 {
			errs = append(errs, ne...)
		} else if v <= spec.GetMinReadySeconds() {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), v, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// ValidateDeploymentUpdate: the Deployment is valid and its selector does not change.
func ValidateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := ValidateObjectMetaUpdate(d.GetMetadata(), old.GetMetadata(), metadataPath)
	errs = append(errs, ValidateDeployment(d)...)
	return append(errs, validateSelectorImmutable(d.GetSpec().GetSelector(), old.GetSpec().GetSelector())...)
}

// ValidateDeploymentStatusUpdate validates a Deployment status write: counts are not negative, none
// exceeds status.replicas, available replicas do not exceed ready ones, and collisionCount never decreases.
func ValidateDeploymentStatusUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := ValidateObjectMetaUpdate(d.GetMetadata(), old.GetMetadata(), metadataPath)
	st, oldSt := d.GetStatus(), old.GetStatus()
	if st == nil {
		st = &appsv1.DeploymentStatus{}
	}
	if oldSt == nil {
		oldSt = &appsv1.DeploymentStatus{}
	}
	p := field.NewPath("status")
	errs = append(errs, validateNonnegative(st.GetObservedGeneration(), p.Child("observedGeneration"))...)
	for _, f := range []struct {
		name  string
		value int32
	}{{"replicas", st.GetReplicas()}, {"updatedReplicas", st.GetUpdatedReplicas()}, {"readyReplicas", st.GetReadyReplicas()},
		{"availableReplicas", st.GetAvailableReplicas()}, {"unavailableReplicas", st.GetUnavailableReplicas()}} {
		errs = append(errs, validateNonnegative(f.value, p.Child(f.name))...)
	}
	if st.CollisionCount != nil {
		errs = append(errs, validateNonnegative(st.GetCollisionCount(), p.Child("collisionCount"))...)
		if oc := oldSt.CollisionCount; oc != nil && st.GetCollisionCount() < *oc {
			errs = append(errs, field.Invalid(p.Child("collisionCount"), st.GetCollisionCount(), "cannot be decremented"))
		}
	} else if oldSt.CollisionCount != nil {
		errs = append(errs, field.Invalid(p.Child("collisionCount"), nil, "cannot be decremented"))
	}
	const msg = "cannot be greater than status.replicas"
	if st.GetUpdatedReplicas() > st.GetReplicas() {
		errs = append(errs, field.Invalid(p.Child("updatedReplicas"), st.GetUpdatedReplicas(), msg))
	}
	if st.GetReadyReplicas() > st.GetReplicas() {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), st.GetReadyReplicas(), msg))
	}
	if st.GetAvailableReplicas() > st.GetReplicas() {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), st.GetAvailableReplicas(), msg))
	}
	if st.GetAvailableReplicas() > st.GetReadyReplicas() {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), st.GetAvailableReplicas(), "cannot be greater than readyReplicas"))
	}
	return errs
}

// validateSelectorAndTemplate checks a workload's selector (required, valid, not empty), its template
// (a valid pod template whose labels the selector matches, restartPolicy Always, no activeDeadlineSeconds).
func validateSelectorAndTemplate(kind string, sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	selPath, tPath := spec.Child("selector"), spec.Child("template")
	selectorOK := false
	if sel == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		serrs := ValidateLabelSelector(sel, selPath)
		errs = append(errs, serrs...)
		if len(sel.GetMatchLabels())+len(sel.GetMatchExpressions()) == 0 {
			errs = append(errs, field.Invalid(selPath, selectorValue{sel}, "empty selector is invalid for "+strings.ToLower(kind)))
		} else {
			selectorOK = len(serrs) == 0
		}
	}
	if t == nil {
		return append(errs, field.Required(tPath, ""))
	}
	if selectorOK && !labelSelectorMatches(sel, t.GetMetadata().GetLabels()) {
		errs = append(errs, field.Invalid(tPath.Child("metadata", "labels"), t.GetMetadata().GetLabels(), SelectorMismatchMsg))
	}
	errs = append(errs, ValidatePodTemplateSpec(t, tPath)...)
	if rp := t.GetSpec().GetRestartPolicy(); rp != "Always" && (rp == "OnFailure" || rp == "Never") {
		errs = append(errs, field.NotSupported(tPath.Child("spec", "restartPolicy"), rp, []string{"Always"}))
	}
	if ts := t.GetSpec(); ts != nil && ts.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(tPath.Child("spec", "activeDeadlineSeconds"), t.GetSpec().GetActiveDeadlineSeconds(),
			fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return errs
}

func validateSelectorImmutable(sel, old *metav1.LabelSelector) field.ErrorList {
	if labelSelectorEqual(sel, old) {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("spec", "selector"), selectorValue{sel}, fieldImmutableErrMsg)}
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, path *field.Path) field.ErrorList {
	switch s.GetType() {
	case RecreateDeploymentStrategyType:
		if s.GetRollingUpdate() != nil {
			return field.ErrorList{field.Forbidden(path.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case RollingUpdateDeploymentStrategyType:
		ru := s.GetRollingUpdate()
		if ru == nil {
			return field.ErrorList{field.Required(path.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		p := path.Child("rollingUpdate")
		muErrs := validateIntOrPercent(ru.GetMaxUnavailable(), p.Child("maxUnavailable"))
		msErrs := validateIntOrPercent(ru.GetMaxSurge(), p.Child("maxSurge"))
		errs := append(append(field.ErrorList(nil), muErrs...), msErrs...)
		if len(muErrs) == 0 {
			if v, pct := intOrPercentValue(ru.GetMaxUnavailable()); pct && v > 100 {
				errs = append(errs, field.Invalid(p.Child("maxUnavailable"), intOrStringValue(ru.GetMaxUnavailable()), "must not be greater than 100%"))
			}
		}
		if len(muErrs) == 0 && len(msErrs) == 0 {
			mu, _ := intOrPercentValue(ru.GetMaxUnavailable())
			ms, _ := intOrPercentValue(ru.GetMaxSurge())
			if mu == 0 && ms == 0 {
				errs = append(errs, field.Invalid(p.Child("maxUnavailable"), intOrStringValue(ru.GetMaxUnavailable()), "may not be 0 when `maxSurge` is 0"))
			}
		}
		return errs
	case "":
		return field.ErrorList{field.Required(path.Child("type"), "")}
	default:
		return field.ErrorList{field.NotSupported(path.Child("type"), s.GetType(),
			[]string{RecreateDeploymentStrategyType, RollingUpdateDeploymentStrategyType})}
	}
	return nil
}

// validateIntOrPercent: an integer >= 0 or a percentage such as "25%".
func validateIntOrPercent(v *metav1.IntOrString, path *field.Path) field.ErrorList {
	switch x := v.GetValue().(type) {
	case *metav1.IntOrString_IntVal:
		return validateNonnegative(x.IntVal, path)
	case *metav1.IntOrString_StrVal:
		var errs field.ErrorList
		for _, msg := range IsValidPercent(x.StrVal) {
			errs = append(errs, field.Invalid(path, x.StrVal, msg))
		}
		return errs
	}
	return field.ErrorList{field.Required(path, "must be an integer or percentage (e.g '5%')")}
}

// intOrPercentValue returns the number an IntOrString holds and whether it is a percentage.
func intOrPercentValue(v *metav1.IntOrString) (int64, bool) {
	switch x := v.GetValue().(type) {
	case *metav1.IntOrString_IntVal:
		return int64(x.IntVal), false
	case *metav1.IntOrString_StrVal:
		n, err := strconv.ParseInt(strings.TrimSuffix(x.StrVal, "%"), 10, 64)
		if err != nil {
			return math.MaxInt64, true // all digits (validated) but too large
		}
		return n, true
	}
	return 0, false
}
