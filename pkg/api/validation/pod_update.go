package validation

import (
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api/validation/field"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// ValidatePodUpdate validates a pod update. Besides metadata, only container and init container images,
// activeDeadlineSeconds (set, or lowered), additions to the tolerations (and changes of their
// tolerationSeconds) and a negative terminationGracePeriodSeconds turned into 1 may change; spec.nodeName
// may be set once and never changed.
func ValidatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := ValidateObjectMetaUpdate(pod.GetMetadata(), old.GetMetadata(), metadataPath)
	errs = append(errs, ValidatePod(pod)...)
	specPath := field.NewPath("spec")
	spec, oldSpec := pod.GetSpec(), old.GetSpec()
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	if oldSpec == nil {
		oldSpec = &corev1.PodSpec{}
	}

	if spec.ActiveDeadlineSeconds != nil {
		v := spec.GetActiveDeadlineSeconds()
		if oldSpec.ActiveDeadlineSeconds != nil && v >= 1 && v <= math.MaxInt32 && oldSpec.GetActiveDeadlineSeconds() < v {
			errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), v, "must be less than or equal to previous value"))
		}
	} else if oldSpec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), nil, "must not update from a positive integer to nil value"))
	}

	if old, cur := oldSpec.GetNodeName(), spec.GetNodeName(); old != "" && cur != old {
		errs = append(errs, field.Invalid(specPath.Child("nodeName"), cur, fieldImmutableErrMsg))
	}

	for _, ot := range oldSpec.GetTolerations() {
		found := false
		for _, nt := range spec.GetTolerations() {
			if nt == nil {
				nt = &corev1.Toleration{}
			}
			c := &corev1.Toleration{}
			if ot != nil {
				c = proto.Clone(ot).(*corev1.Toleration)
			}
			c.TolerationSeconds = nt.TolerationSeconds
			if proto.Equal(c, nt) {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, field.Forbidden(specPath.Child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"))
			break
		}
	}

	// Everything else must be unchanged: copy the mutable fields from old and compare.
	munged := proto.Clone(spec).(*corev1.PodSpec)
	for _, c := range []struct{ cur, old []*corev1.Container }{
		{munged.Containers, oldSpec.GetContainers()}, {munged.InitContainers, oldSpec.GetInitContainers()},
	} {
		if len(c.cur) != len(c.old) {
			continue
		}
		for i, ctr := range c.cur {
			if ctr != nil && c.old[i] != nil {
				ctr.Image = c.old[i].GetImage()
			}
		}
	}
	munged.ActiveDeadlineSeconds = oldSpec.ActiveDeadlineSeconds
	munged.Tolerations = oldSpec.GetTolerations() // checked above
	if g := oldSpec.TerminationGracePeriodSeconds; g != nil && *g < 0 && munged.GetTerminationGracePeriodSeconds() == 1 {
		munged.TerminationGracePeriodSeconds = g
	}
	// nodeName: set once (errors above when changed).
	munged.NodeName = oldSpec.GetNodeName()
	if !proto.Equal(munged, oldSpec) {
		errs = append(errs, field.Forbidden(specPath, PodUpdateForbiddenMsg))
	}
	return errs
}

// ValidatePodStatusUpdate validates a pod status write: addresses are IPs (podIPs[0] being podIP), phase
// and conditions use known values, restart counts are not negative, and containers of a pod that is not
// restarted do not leave the terminated state.
func ValidatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := ValidateObjectMetaUpdate(pod.GetMetadata(), old.GetMetadata(), metadataPath)
	st := pod.GetStatus()
	path := field.NewPath("status")
	if p := st.GetPhase(); p != "" && !slices.Contains(supportedPodPhases, p) {
		errs = append(errs, field.NotSupported(path.Child("phase"), p, supportedPodPhases))
	}
	for i, c := range st.GetConditions() {
		p := path.Child("conditions").Index(i)
		if c.GetType() == "" {
			errs = append(errs, field.Required(p.Child("type"), ""))
		} else {
			errs = append(errs, validateQualifiedName(c.GetType(), p.Child("type"))...)
		}
		if !slices.Contains(supportedConditionState, c.GetStatus()) {
			errs = append(errs, field.NotSupported(p.Child("status"), c.GetStatus(), supportedConditionState))
		}
	}
	if ip := st.GetHostIp(); ip != "" {
		errs = append(errs, validateIP(ip, path.Child("hostIP"))...)
	}
	if ip := st.GetPodIp(); ip != "" {
		errs = append(errs, validateIP(ip, path.Child("podIP"))...)
	}
	ips := st.GetPodIps()
	seen := map[string]bool{}
	var values []string
	ipsOK := true
	for i, ip := range ips {
		p := path.Child("podIPs").Index(i).Child("ip")
		ipErrs := validateIP(ip.GetIp(), p)
		errs = append(errs, ipErrs...)
		ipsOK = ipsOK && len(ipErrs) == 0
		if seen[ip.GetIp()] {
			errs = append(errs, field.Duplicate(p, ip.GetIp()))
		}
		seen[ip.GetIp()] = true
		values = append(values, ip.GetIp())
	}
	if ipsOK && len(ips) > 1 && !isDualStack(values) {
		errs = append(errs, field.Invalid(path.Child("podIPs"), values, "may specify no more than one IP for each IP family"))
	}
	if len(ips) > 0 && st.GetPodIp() != "" && ips[0].GetIp() != st.GetPodIp() {
		errs = append(errs, field.Invalid(path.Child("podIPs").Index(0).Child("ip"), ips[0].GetIp(), "must match status.podIP"))
	}
	if n := st.GetNominatedNodeName(); n != "" {
		errs = append(errs, validateDNS1123Subdomain(n, path.Child("nominatedNodeName"))...)
	}
	for _, cs := range []struct {
		name        string
		cur, before []*corev1.ContainerStatus
	}{
		{"initContainerStatuses", st.GetInitContainerStatuses(), old.GetStatus().GetInitContainerStatuses()},
		{"containerStatuses", st.GetContainerStatuses(), old.GetStatus().GetContainerStatuses()},
	} {
		p := path.Child(cs.name)
		for i, s := range cs.cur {
			errs = append(errs, validateNonnegative(s.GetRestartCount(), p.Index(i).Child("restartCount"))...)
		}
		errs = append(errs, validateContainerStateTransition(cs.cur, cs.before, old.GetSpec().GetRestartPolicy(), p)...)
	}
	return errs
}

// validateContainerStateTransition: with restartPolicy Never (or OnFailure after a success) a terminated
// container stays terminated.
func validateContainerStateTransition(cur, old []*corev1.ContainerStatus, restartPolicy string, path *field.Path) field.ErrorList {
	if restartPolicy == "Always" {
		return nil
	}
	var errs field.ErrorList
	for i, o := range old {
		t := o.GetState().GetTerminated()
		if t == nil || t.GetExitCode() != 0 && restartPolicy == "OnFailure" {
			continue
		}
		for _, n := range cur {
			if n.GetName() == o.GetName() && n.GetState().GetTerminated() == nil {
				errs = append(errs, field.Forbidden(path.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}
