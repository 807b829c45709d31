package validation

import (
	"strconv"

	"github.com/coxswain/coxswain/pkg/api/validation/field"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// The operators of node selector requirements.
const (
	nodeSelectorOpIn           = "In"
	nodeSelectorOpNotIn        = "NotIn"
	nodeSelectorOpExists       = "Exists"
	nodeSelectorOpDoesNotExist = "DoesNotExist"
	nodeSelectorOpGt           = "Gt"
	nodeSelectorOpLt           = "Lt"
)

// validateTolerations: a key is a label name (empty only with operator Exists, matching every taint), the
// operator is Equal or Exists (Exists takes no value), the value is a label value, the effect is a taint
// effect, and tolerationSeconds goes with effect NoExecute only.
func validateTolerations(tolerations []*corev1.Toleration, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tolerations {
		p := path.Index(i)
		if t.GetKey() != "" {
			errs = append(errs, ValidateLabelName(t.GetKey(), p.Child("key"))...)
		}
		if t.GetKey() == "" && t.GetOperator() != "Exists" {
			errs = append(errs, field.Invalid(p.Child("operator"), t.GetOperator(),
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t != nil && t.TolerationSeconds != nil && t.GetEffect() != "NoExecute" {
			errs = append(errs, field.Invalid(p.Child("effect"), t.GetEffect(), "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.GetOperator() {
		case "Equal", "":
			for _, msg := range IsValidLabelValue(t.GetValue()) {
				errs = append(errs, field.Invalid(p.Child("value"), t.GetValue(), msg))
			}
		case "Exists":
			if t.GetValue() != "" {
				errs = append(errs, field.Invalid(p.Child("value"), t.GetValue(), "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("operator"), t.GetOperator(), supportedTolerationOps))
		}
		errs = append(errs, validateTaintEffect(t.GetEffect(), true, p.Child("effect"))...)
	}
	return errs
}

// validateAffinity checks node affinity (node selector terms and weights) and pod (anti-)affinity terms.
func validateAffinity(a *corev1.Affinity, path *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	if na := a.GetNodeAffinity(); na != nil {
		p := path.Child("nodeAffinity")
		if r := na.GetRequiredDuringSchedulingIgnoredDuringExecution(); r != nil {
			rp := p.Child("requiredDuringSchedulingIgnoredDuringExecution")
			if len(r.GetNodeSelectorTerms()) == 0 {
				errs = append(errs, field.Required(rp.Child("nodeSelectorTerms"), "must have at least one node selector term"))
			}
			for i, t := range r.GetNodeSelectorTerms() {
				errs = append(errs, validateNodeSelectorTerm(t, rp.Child("nodeSelectorTerms").Index(i))...)
			}
		}
		for i, t := range na.GetPreferredDuringSchedulingIgnoredDuringExecution() {
			pp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, validateWeight(t.GetWeight(), pp.Child("weight"))...)
			if t.GetPreference() == nil {
				errs = append(errs, field.Required(pp.Child("preference"), ""))
				continue
			}
			errs = append(errs, validateNodeSelectorTerm(t.GetPreference(), pp.Child("preference"))...)
		}
	}
	for _, pa := range []struct {
		name      string
		required  []*corev1.PodAffinityTerm
		preferred []*corev1.WeightedPodAffinityTerm
	}{
		{"podAffinity", a.GetPodAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution(), a.GetPodAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution()},
		{"podAntiAffinity", a.GetPodAntiAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution(), a.GetPodAntiAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution()},
	} {
		p := path.Child(pa.name)
		for i, t := range pa.required {
			errs = append(errs, validatePodAffinityTerm(t, p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))...)
		}
		for i, t := range pa.preferred {
			pp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, validateWeight(t.GetWeight(), pp.Child("weight"))...)
			errs = append(errs, validatePodAffinityTerm(t.GetPodAffinityTerm(), pp.Child("podAffinityTerm"))...)
		}
	}
	return errs
}

func validateWeight(w int32, path *field.Path) field.ErrorList {
	if w < 1 || w > 100 {
		return field.ErrorList{field.Invalid(path, w, "must be in the range 1-100")}
	}
	return nil
}

func validateNodeSelectorTerm(t *corev1.NodeSelectorTerm, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range t.GetMatchExpressions() {
		p := path.Child("matchExpressions").Index(i)
		vals := r.GetValues()
		switch r.GetOperator() {
		case nodeSelectorOpIn, nodeSelectorOpNotIn:
			if len(vals) == 0 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case nodeSelectorOpExists, nodeSelectorOpDoesNotExist:
			if len(vals) > 0 {
				errs = append(errs, field.Forbidden(p.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		case nodeSelectorOpGt, nodeSelectorOpLt:
			if len(vals) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
			} else if _, err := strconv.ParseInt(vals[0], 10, 64); err != nil {
				errs = append(errs, field.Invalid(p.Child("values").Index(0), vals[0], "must be an integer when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), r.GetOperator(), "not a valid selector operator"))
		}
		errs = append(errs, ValidateLabelName(r.GetKey(), p.Child("key"))...)
	}
	for i, r := range t.GetMatchFields() {
		p := path.Child("matchFields").Index(i)
		if r.GetKey() != "metadata.name" {
			errs = append(errs, field.NotSupported(p.Child("key"), r.GetKey(), []string{"metadata.name"}))
		}
		switch r.GetOperator() {
		case nodeSelectorOpIn, nodeSelectorOpNotIn:
			if len(r.GetValues()) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), r.GetOperator(), "not a valid selector operator"))
		}
	}
	return errs
}

func validatePodAffinityTerm(t *corev1.PodAffinityTerm, path *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(path, "")}
	}
	errs := ValidateLabelSelector(t.GetLabelSelector(), path.Child("labelSelector"))
	for i, ns := range t.GetNamespaces() {
		for _, msg := range NameIsDNSLabel(ns, false) {
			errs = append(errs, field.Invalid(path.Child("namespaces").Index(i), ns, msg))
		}
	}
	if t.GetTopologyKey() == "" {
		errs = append(errs, field.Required(path.Child("topologyKey"), "can not be empty"))
	} else {
		errs = append(errs, ValidateLabelName(t.GetTopologyKey(), path.Child("topologyKey"))...)
	}
	return errs
}
