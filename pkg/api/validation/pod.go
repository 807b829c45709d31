package validation

import (
	"fmt"
	"math"
	posixpath "path"
	"slices"
	"strings"

	"github.com/coxswain/coxswain/pkg/api/validation/field"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Supported values of pod fields (sorted as Kubernetes lists them in "supported values").
var (
	supportedPortProtocols  = []string{"SCTP", "TCP", "UDP"}
	supportedRestartPolicy  = []string{"Always", "OnFailure", "Never"}
	supportedDNSPolicy      = []string{"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"}
	supportedPullPolicy     = []string{"Always", "IfNotPresent", "Never"}
	supportedHTTPSchemes    = []string{"HTTP", "HTTPS"}
	supportedHostPathTypes  = []string{"", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"}
	supportedTolerationOps  = []string{"Equal", "Exists"}
	supportedPodPhases      = []string{"Pending", "Running", "Succeeded", "Failed", "Unknown"}
	supportedConditionState = []string{"True", "False", "Unknown"}
	// The env valueFrom.fieldRef paths the kubelet resolves (plus metadata.labels['k'] and
	// metadata.annotations['k']).
	supportedEnvFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
		"spec.serviceAccountName", "status.hostIP", "status.podIP", "status.podIPs"}
	supportedResourceFieldRefs = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory",
		"requests.cpu", "requests.ephemeral-storage", "requests.memory"}
)

// Limits of a pod's DNS configuration (those of the resolver).
const (
	MaxDNSNameservers     = 3
	MaxDNSSearchPaths     = 32
	MaxDNSSearchListChars = 2048
)

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// PodUpdateForbiddenMsg is the detail of the error for a pod update that changes an immutable field.
const PodUpdateForbiddenMsg = "pod updates may not change fields other than spec.containers[*].image, " +
	"spec.initContainers[*].image, spec.activeDeadlineSeconds, spec.tolerations (only additions to existing tolerations), " +
	"spec.terminationGracePeriodSeconds (allow it to be set to 1 if it was previously negative)"

// ValidatePod validates a new pod: its metadata (a DNS-subdomain name) and its spec.
func ValidatePod(pod *corev1.Pod) field.ErrorList {
	errs := ValidateObjectMeta(pod.GetMetadata(), true, NameIsDNSSubdomain, metadataPath)
	return append(errs, ValidatePodSpec(pod.GetSpec(), field.NewPath("spec"))...)
}

// ValidatePodTemplateSpec validates a pod template: its labels and annotations, and its spec.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, path *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(path, "")}
	}
	errs := ValidateLabels(t.GetMetadata().GetLabels(), path.Child("metadata", "labels"))
	errs = append(errs, ValidateAnnotations(t.GetMetadata().GetAnnotations(), path.Child("metadata", "annotations"))...)
	return append(errs, ValidatePodSpec(t.GetSpec(), path.Child("spec"))...)
}

// ValidatePodSpec validates a pod spec: containers and init containers, volumes, policies, scheduling
// constraints and DNS settings.
func ValidatePodSpec(spec *corev1.PodSpec, path *field.Path) field.ErrorList {
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	volumes, errs := validateVolumes(spec.GetVolumes(), path.Child("volumes"))
	errs = append(errs, validateContainers(spec, volumes, path)...)
	errs = append(errs, validateRestartPolicy(spec.GetRestartPolicy(), path.Child("restartPolicy"))...)
	errs = append(errs, validateDNSPolicy(spec.GetDnsPolicy(), path.Child("dnsPolicy"))...)
	errs = append(errs, validatePodDNSConfig(spec.GetDnsConfig(), spec.GetDnsPolicy(), path.Child("dnsConfig"))...)
	errs = append(errs, ValidateLabels(spec.GetNodeSelector(), path.Child("nodeSelector"))...)
	for _, f := range []struct {
		name, value string
		fn          func(string, *field.Path) field.ErrorList
	}{
		{"serviceAccountName", spec.GetServiceAccountName(), validateDNS1123Subdomain},
		{"nodeName", spec.GetNodeName(), validateDNS1123Subdomain},
		{"hostname", spec.GetHostname(), validateDNS1123Label},
		{"subdomain", spec.GetSubdomain(), validateDNS1123Label},
		{"schedulerName", spec.GetSchedulerName(), validateDNS1123Subdomain},
		{"priorityClassName", spec.GetPriorityClassName(), validateDNS1123Subdomain},
	} {
		if f.value != "" {
			errs = append(errs, f.fn(f.value, path.Child(f.name))...)
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := spec.GetActiveDeadlineSeconds(); v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(path.Child("activeDeadlineSeconds"), v, InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if spec.TerminationGracePeriodSeconds != nil {
		errs = append(errs, validateNonnegative(spec.GetTerminationGracePeriodSeconds(), path.Child("terminationGracePeriodSeconds"))...)
	}
	errs = append(errs, validateAffinity(spec.GetAffinity(), path.Child("affinity"))...)
	errs = append(errs, validateTolerations(spec.GetTolerations(), path.Child("tolerations"))...)
	for i, h := range spec.GetHostAliases() {
		p := path.Child("hostAliases").Index(i)
		errs = append(errs, validateIP(h.GetIp(), p.Child("ip"))...)
		for j, hn := range h.GetHostnames() {
			errs = append(errs, validateDNS1123Subdomain(hn, p.Child("hostnames").Index(j))...)
		}
	}
	for i, s := range spec.GetImagePullSecrets() {
		if s.GetName() == "" {
			errs = append(errs, field.Required(path.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return errs
}

func validateRestartPolicy(p string, path *field.Path) field.ErrorList {
	switch {
	case p == "":
		return field.ErrorList{field.Required(path, "")}
	case !slices.Contains(supportedRestartPolicy, p):
		return field.ErrorList{field.NotSupported(path, p, supportedRestartPolicy)}
	}
	return nil
}

func validateDNSPolicy(p string, path *field.Path) field.ErrorList {
	switch {
	case p == "":
		return field.ErrorList{field.Required(path, "")}
	case !slices.Contains(supportedDNSPolicy, p):
		return field.ErrorList{field.NotSupported(path, p, supportedDNSPolicy)}
	}
	return nil
}

func validatePodDNSConfig(c *corev1.PodDNSConfig, policy string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if policy == "None" {
		if c == nil {
			return field.ErrorList{field.Required(path, "must provide `dnsConfig` when `dnsPolicy` is None")}
		}
		if len(c.GetNameservers()) == 0 {
			return field.ErrorList{field.Required(path.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")}
		}
	}
	if c == nil {
		return nil
	}
	if len(c.GetNameservers()) > MaxDNSNameservers {
		errs = append(errs, field.Invalid(path.Child("nameservers"), c.GetNameservers(), fmt.Sprintf("must not have more than %d nameservers", MaxDNSNameservers)))
	}
	for i, ns := range c.GetNameservers() {
		errs = append(errs, validateIP(ns, path.Child("nameservers").Index(i))...)
	}
	if len(c.GetSearches()) > MaxDNSSearchPaths {
		errs = append(errs, field.Invalid(path.Child("searches"), c.GetSearches(), fmt.Sprintf("must not have more than %d search paths", MaxDNSSearchPaths)))
	}
	if len(strings.Join(c.GetSearches(), " ")) > MaxDNSSearchListChars {
		errs = append(errs, field.Invalid(path.Child("searches"), c.GetSearches(),
			fmt.Sprintf("must not have more than %d characters (including spaces) in the search list", MaxDNSSearchListChars)))
	}
	for i, s := range c.GetSearches() {
		errs = append(errs, validateDNS1123Subdomain(strings.TrimSuffix(s, "."), path.Child("searches").Index(i))...)
	}
	for i, o := range c.GetOptions() {
		if o.GetName() == "" {
			errs = append(errs, field.Required(path.Child("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

// ---------------------------------------------------------------- volumes

// validateVolumes checks volume names (unique DNS-1123 labels) and sources (exactly one); it returns the
// declared names for the volume mounts to refer to.
func validateVolumes(volumes []*corev1.Volume, path *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, v := range volumes {
		p := path.Index(i)
		name := v.GetName()
		if name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			errs = append(errs, validateDNS1123Label(name, p.Child("name"))...)
		}
		if names[name] {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		if name != "" {
			names[name] = true
		}
		errs = append(errs, validateVolumeSource(v, p)...)
	}
	return names, errs
}

func validateVolumeSource(v *corev1.Volume, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	one := func(name string, set bool, validate func(*field.Path) field.ErrorList) {
		if !set {
			return
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(path.Child(name), "may not specify more than 1 volume type"))
			return
		}
		n++
		errs = append(errs, validate(path.Child(name))...)
	}
	one("emptyDir", v.GetEmptyDir() != nil, func(p *field.Path) field.ErrorList {
		if sl := v.GetEmptyDir().GetSizeLimit(); sl != "" {
			_, qerrs := ValidateQuantity(ResourceEphemeralStorage, sl, p.Child("sizeLimit"))
			return qerrs
		}
		return nil
	})
	one("hostPath", v.GetHostPath() != nil, func(p *field.Path) field.ErrorList {
		var errs field.ErrorList
		hp := v.GetHostPath()
		if hp.GetPath() == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		} else {
			errs = append(errs, validatePathNoBacksteps(hp.GetPath(), p.Child("path"))...)
		}
		if !slices.Contains(supportedHostPathTypes, hp.GetType()) {
			errs = append(errs, field.NotSupported(p.Child("type"), hp.GetType(), supportedHostPathTypes[1:]))
		}
		return errs
	})
	one("secret", v.GetSecret() != nil, func(p *field.Path) field.ErrorList {
		s := v.GetSecret()
		var errs field.ErrorList
		if s.GetSecretName() == "" {
			errs = append(errs, field.Required(p.Child("secretName"), ""))
		} else {
			errs = append(errs, validateDNS1123Subdomain(s.GetSecretName(), p.Child("secretName"))...)
		}
		errs = append(errs, validateFileMode(s.DefaultMode, p.Child("defaultMode"))...)
		return append(errs, validateKeyToPaths(s.GetItems(), p.Child("items"))...)
	})
	one("configMap", v.GetConfigMap() != nil, func(p *field.Path) field.ErrorList {
		c := v.GetConfigMap()
		var errs field.ErrorList
		if c.GetName() == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			errs = append(errs, validateDNS1123Subdomain(c.GetName(), p.Child("name"))...)
		}
		errs = append(errs, validateFileMode(c.DefaultMode, p.Child("defaultMode"))...)
		return append(errs, validateKeyToPaths(c.GetItems(), p.Child("items"))...)
	})
	if n == 0 {
		errs = append(errs, field.Required(path, "must specify a volume type"))
	}
	return errs
}

func validateFileMode(mode *int32, path *field.Path) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		return field.ErrorList{field.Invalid(path, *mode, fileModeErrorMsg)}
	}
	return nil
}

func validateKeyToPaths(items []*corev1.KeyToPath, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, kp := range items {
		p := path.Index(i)
		if kp.GetKey() == "" {
			errs = append(errs, field.Required(p.Child("key"), ""))
		}
		if kp.GetPath() == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		} else {
			errs = append(errs, validateLocalNonReservedPath(kp.GetPath(), p.Child("path"))...)
		}
		if kp != nil {
			errs = append(errs, validateFileMode(kp.Mode, p.Child("mode"))...)
		}
	}
	return errs
}

func validatePathNoBacksteps(p string, path *field.Path) field.ErrorList {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(path, p, "must not contain '..'")}
		}
	}
	return nil
}

// validateLocalDescendingPath: a relative path that does not climb out of its directory.
func validateLocalDescendingPath(p string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(p, "/") {
		errs = append(errs, field.Invalid(path, p, "must be a relative path"))
	}
	return append(errs, validatePathNoBacksteps(p, path)...)
}

// validateLocalNonReservedPath: a local descending path whose first element does not start with ".."
// (the atomic writer's reserved names).
func validateLocalNonReservedPath(p string, path *field.Path) field.ErrorList {
	errs := validateLocalDescendingPath(p, path)
	if strings.HasPrefix(p, "..") && !strings.HasPrefix(p, "../") {
		errs = append(errs, field.Invalid(path, p, "must not start with '..'"))
	}
	return errs
}

// ---------------------------------------------------------------- containers

// validateContainers checks init and regular containers; names are unique across both.
func validateContainers(spec *corev1.PodSpec, volumes map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	cpath, ipath := path.Child("containers"), path.Child("initContainers")
	if len(spec.GetContainers()) == 0 {
		errs = append(errs, field.Required(cpath, ""))
	}
	names := map[string]bool{}
	hostPorts := map[string]bool{}
	for i, c := range spec.GetContainers() {
		p := cpath.Index(i)
		errs = append(errs, validateContainer(c, volumes, false, p)...)
		if c.GetName() != "" && names[c.GetName()] {
			errs = append(errs, field.Duplicate(p.Child("name"), c.GetName()))
		}
		names[c.GetName()] = true
		errs = append(errs, validateHostPorts(c, spec.GetHostNetwork(), hostPorts, p.Child("ports"))...)
	}
	initHostPorts := map[string]bool{}
	for i, c := range spec.GetInitContainers() {
		p := ipath.Index(i)
		errs = append(errs, validateContainer(c, volumes, true, p)...)
		if c.GetName() != "" && names[c.GetName()] {
			errs = append(errs, field.Duplicate(p.Child("name"), c.GetName()))
		}
		names[c.GetName()] = true
		errs = append(errs, validateHostPorts(c, spec.GetHostNetwork(), initHostPorts, p.Child("ports"))...)
	}
	return errs
}

// validateHostPorts: a host port is taken once per IP and protocol; with hostNetwork, the container port
// is the host port.
func validateHostPorts(c *corev1.Container, hostNetwork bool, seen map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, port := range c.GetPorts() {
		p := path.Index(i)
		if hostNetwork && port.GetHostPort() != port.GetContainerPort() {
			errs = append(errs, field.Invalid(p.Child("containerPort"), port.GetContainerPort(), "must match `hostPort` when `hostNetwork` is true"))
		}
		if port.GetHostPort() == 0 {
			continue
		}
		key := fmt.Sprintf("%s/%s/%d", port.GetHostIp(), port.GetProtocol(), port.GetHostPort())
		if seen[key] {
			errs = append(errs, field.Duplicate(p.Child("hostPort"), key))
		}
		seen[key] = true
	}
	return errs
}

func validateContainer(c *corev1.Container, volumes map[string]bool, init bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.GetName() == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else {
		errs = append(errs, validateDNS1123Label(c.GetName(), path.Child("name"))...)
	}
	if img := c.GetImage(); img == "" {
		errs = append(errs, field.Required(path.Child("image"), ""))
	} else if strings.TrimSpace(img) != img {
		errs = append(errs, field.Invalid(path.Child("image"), img, "must not have leading or trailing whitespace"))
	}
	errs = append(errs, validateContainerPorts(c.GetPorts(), path.Child("ports"))...)
	errs = append(errs, validateEnvFrom(c.GetEnvFrom(), path.Child("envFrom"))...)
	errs = append(errs, validateEnv(c.GetEnv(), path.Child("env"))...)
	errs = append(errs, ValidateResourceRequirements(c.GetResources(), path.Child("resources"))...)
	errs = append(errs, validateVolumeMounts(c.GetVolumeMounts(), volumes, path.Child("volumeMounts"))...)
	if init {
		for _, f := range []struct {
			name string
			set  bool
		}{{"lifecycle", c.GetLifecycle() != nil}, {"livenessProbe", c.GetLivenessProbe() != nil},
			{"readinessProbe", c.GetReadinessProbe() != nil}, {"startupProbe", c.GetStartupProbe() != nil}} {
			if f.set {
				errs = append(errs, field.Forbidden(path.Child(f.name), "may not be set for init containers without restartPolicy=Always"))
			}
		}
	} else {
		errs = append(errs, validateProbe(c.GetLivenessProbe(), true, path.Child("livenessProbe"))...)
		errs = append(errs, validateProbe(c.GetReadinessProbe(), false, path.Child("readinessProbe"))...)
		errs = append(errs, validateProbe(c.GetStartupProbe(), true, path.Child("startupProbe"))...)
		if rp := c.GetReadinessProbe(); rp != nil && rp.TerminationGracePeriodSeconds != nil {
			errs = append(errs, field.Invalid(path.Child("readinessProbe", "terminationGracePeriodSeconds"),
				c.GetReadinessProbe().GetTerminationGracePeriodSeconds(), "must not be set for readinessProbes"))
		}
		if l := c.GetLifecycle(); l != nil {
			if l.GetPostStart() != nil {
				errs = append(errs, validateHandler(l.GetPostStart().GetExec(), l.GetPostStart().GetHttpGet(), l.GetPostStart().GetTcpSocket(), path.Child("lifecycle", "postStart"))...)
			}
			if l.GetPreStop() != nil {
				errs = append(errs, validateHandler(l.GetPreStop().GetExec(), l.GetPreStop().GetHttpGet(), l.GetPreStop().GetTcpSocket(), path.Child("lifecycle", "preStop"))...)
			}
		}
	}
	switch pp := c.GetImagePullPolicy(); {
	case pp == "":
		errs = append(errs, field.Required(path.Child("imagePullPolicy"), ""))
	case !slices.Contains(supportedPullPolicy, pp):
		errs = append(errs, field.NotSupported(path.Child("imagePullPolicy"), pp, supportedPullPolicy))
	}
	if sc := c.GetSecurityContext(); sc != nil {
		if sc.RunAsUser != nil {
			errs = append(errs, validateNonnegative(sc.GetRunAsUser(), path.Child("securityContext", "runAsUser"))...)
		}
		if sc.RunAsGroup != nil {
			errs = append(errs, validateNonnegative(sc.GetRunAsGroup(), path.Child("securityContext", "runAsGroup"))...)
		}
	}
	return errs
}

func validateContainerPorts(ports []*corev1.ContainerPort, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		p := path.Index(i)
		if name := port.GetName(); name != "" {
			if msgs := IsValidPortName(name); len(msgs) != 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(p.Child("name"), name, msg))
				}
			} else if names[name] {
				errs = append(errs, field.Duplicate(p.Child("name"), name))
			} else {
				names[name] = true
			}
		}
		if port.GetContainerPort() == 0 {
			errs = append(errs, field.Required(p.Child("containerPort"), ""))
		} else {
			for _, msg := range IsValidPortNum(int(port.GetContainerPort())) {
				errs = append(errs, field.Invalid(p.Child("containerPort"), port.GetContainerPort(), msg))
			}
		}
		if port.GetHostPort() != 0 {
			for _, msg := range IsValidPortNum(int(port.GetHostPort())) {
				errs = append(errs, field.Invalid(p.Child("hostPort"), port.GetHostPort(), msg))
			}
		}
		errs = append(errs, validateProtocol(port.GetProtocol(), p.Child("protocol"))...)
		if ip := port.GetHostIp(); ip != "" {
			errs = append(errs, validateIP(ip, p.Child("hostIP"))...)
		}
	}
	return errs
}

func validateProtocol(proto string, path *field.Path) field.ErrorList {
	switch {
	case proto == "":
		return field.ErrorList{field.Required(path, "")}
	case !slices.Contains(supportedPortProtocols, proto):
		return field.ErrorList{field.NotSupported(path, proto, supportedPortProtocols)}
	}
	return nil
}

func validateEnvFrom(from []*corev1.EnvFromSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ef := range from {
		p := path.Index(i)
		if prefix := ef.GetPrefix(); prefix != "" {
			for _, msg := range IsEnvVarName(prefix) {
				errs = append(errs, field.Invalid(p.Child("prefix"), prefix, msg))
			}
		}
		n := 0
		if ef.GetConfigMapRef() != nil {
			n++
			errs = append(errs, validateRefName(ef.GetConfigMapRef().GetName(), p.Child("configMapRef", "name"))...)
		}
		if ef.GetSecretRef() != nil {
			n++
			errs = append(errs, validateRefName(ef.GetSecretRef().GetName(), p.Child("secretRef", "name"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

// validateRefName checks the name of a referenced ConfigMap or Secret.
func validateRefName(name string, path *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(path, "")}
	}
	return validateDNS1123Subdomain(name, path)
}

func validateEnv(env []*corev1.EnvVar, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range env {
		p := path.Index(i)
		if ev.GetName() == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			for _, msg := range IsEnvVarName(ev.GetName()) {
				errs = append(errs, field.Invalid(p.Child("name"), ev.GetName(), msg))
			}
		}
		errs = append(errs, validateEnvVarValueFrom(ev, p.Child("valueFrom"))...)
	}
	return errs
}

func validateEnvVarValueFrom(ev *corev1.EnvVar, path *field.Path) field.ErrorList {
	vf := ev.GetValueFrom()
	if vf == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if vf.GetFieldRef() != nil {
		n++
		errs = append(errs, validateObjectFieldSelector(vf.GetFieldRef(), path.Child("fieldRef"))...)
	}
	if vf.GetResourceFieldRef() != nil {
		n++
		errs = append(errs, validateResourceFieldSelector(vf.GetResourceFieldRef(), path.Child("resourceFieldRef"))...)
	}
	if vf.GetConfigMapKeyRef() != nil {
		n++
		errs = append(errs, validateKeySelector(vf.GetConfigMapKeyRef().GetName(), vf.GetConfigMapKeyRef().GetKey(), path.Child("configMapKeyRef"))...)
	}
	if vf.GetSecretKeyRef() != nil {
		n++
		errs = append(errs, validateKeySelector(vf.GetSecretKeyRef().GetName(), vf.GetSecretKeyRef().GetKey(), path.Child("secretKeyRef"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case ev.GetValue() != "":
		errs = append(errs, field.Invalid(path, "", "may not be specified when `value` is not empty"))
	case n > 1:
		errs = append(errs, field.Invalid(path, "", "may not have more than one field specified at a time"))
	}
	return errs
}

func validateKeySelector(name, key string, path *field.Path) field.ErrorList {
	errs := validateRefName(name, path.Child("name"))
	if key == "" {
		errs = append(errs, field.Required(path.Child("key"), ""))
	} else {
		for _, msg := range IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(path.Child("key"), key, msg))
		}
	}
	return errs
}

// splitSubscriptedPath splits "metadata.labels['key']" into "metadata.labels" and "key".
func splitSubscriptedPath(p string) (string, string, bool) {
	if !strings.HasSuffix(p, "']") {
		return "", "", false
	}
	base, sub, ok := strings.Cut(strings.TrimSuffix(p, "']"), "['")
	if !ok || base == "" {
		return "", "", false
	}
	return base, sub, true
}

func validateObjectFieldSelector(fs *corev1.ObjectFieldSelector, path *field.Path) field.ErrorList {
	if fs.GetApiVersion() == "" {
		return field.ErrorList{field.Required(path.Child("apiVersion"), "")}
	}
	fp := fs.GetFieldPath()
	if fp == "" {
		return field.ErrorList{field.Required(path.Child("fieldPath"), "")}
	}
	if fs.GetApiVersion() != "v1" {
		return field.ErrorList{field.Invalid(path.Child("fieldPath"), fp,
			fmt.Sprintf("error converting fieldPath: unsupported pod version: %s", fs.GetApiVersion()))}
	}
	if base, sub, ok := splitSubscriptedPath(fp); ok {
		switch base {
		case "metadata.annotations":
			return validateQualifiedName(strings.ToLower(sub), path.Child("fieldPath"))
		case "metadata.labels":
			return validateQualifiedName(sub, path.Child("fieldPath"))
		default:
			return field.ErrorList{field.Invalid(path.Child("fieldPath"), base, "does not support subscript")}
		}
	}
	if !slices.Contains(supportedEnvFieldPaths, fp) {
		return field.ErrorList{field.NotSupported(path.Child("fieldPath"), fp, supportedEnvFieldPaths)}
	}
	return nil
}

func validateResourceFieldSelector(fs *corev1.ResourceFieldSelector, path *field.Path) field.ErrorList {
	res := fs.GetResource()
	if res == "" {
		return field.ErrorList{field.Required(path.Child("resource"), "")}
	}
	if !slices.Contains(supportedResourceFieldRefs, res) {
		return field.ErrorList{field.NotSupported(path.Child("resource"), res, supportedResourceFieldRefs)}
	}
	d := fs.GetDivisor()
	if d == "" {
		return nil
	}
	q, errs := ValidateQuantity("", d, path.Child("divisor"))
	if len(errs) != 0 {
		return errs
	}
	if q.IsZero() {
		return nil
	}
	ok := func(vals ...string) bool {
		for _, v := range vals {
			if q.String() == v {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasSuffix(res, ".cpu"):
		if !ok("1m", "1") {
			return field.ErrorList{field.Invalid(path.Child("divisor"), d, "only divisor's values 1m and 1 are supported with the cpu resource")}
		}
	default:
		if !ok("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei") {
			return field.ErrorList{field.Invalid(path.Child("divisor"), d,
				"only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the "+
					strings.TrimPrefix(strings.TrimPrefix(res, "limits."), "requests.")+" resource")}
		}
	}
	return nil
}

// ValidateResourceRequirements checks a container's limits and requests: known resource names, quantities
// that parse and are not negative, and requests no greater than limits.
func ValidateResourceRequirements(r *corev1.ResourceRequirements, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := path.Child("limits"), path.Child("requests")
	limits := map[string]bool{}
	for _, name := range sortedMapKeys(r.GetLimits()) {
		p := limPath.Key(name)
		errs = append(errs, validateContainerResourceName(name, p)...)
		_, qerrs := ValidateQuantity(name, r.GetLimits()[name], p)
		errs = append(errs, qerrs...)
		limits[name] = len(qerrs) == 0
	}
	for _, name := range sortedMapKeys(r.GetRequests()) {
		p := reqPath.Key(name)
		v := r.GetRequests()[name]
		errs = append(errs, validateContainerResourceName(name, p)...)
		q, qerrs := ValidateQuantity(name, v, p)
		errs = append(errs, qerrs...)
		if len(qerrs) != 0 || !limits[name] {
			continue
		}
		lim, _ := ValidateQuantity(name, r.GetLimits()[name], limPath.Key(name))
		if q.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(p, v, fmt.Sprintf("must be less than or equal to %s limit of %s", name, r.GetLimits()[name])))
		}
	}
	return errs
}

func validateVolumeMounts(mounts []*corev1.VolumeMount, volumes map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{}
	for i, m := range mounts {
		p := path.Index(i)
		if m.GetName() == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else if !volumes[m.GetName()] {
			errs = append(errs, field.NotFound(p.Child("name"), m.GetName()))
		}
		mp := m.GetMountPath()
		switch {
		case mp == "":
			errs = append(errs, field.Required(p.Child("mountPath"), ""))
		case !posixpath.IsAbs(mp):
			errs = append(errs, field.Invalid(p.Child("mountPath"), mp, "must be an absolute path"))
		case paths[cleanMountPath(mp)]:
			errs = append(errs, field.Invalid(p.Child("mountPath"), mp, "must be unique"))
		}
		if mp != "" {
			paths[cleanMountPath(mp)] = true
		}
		if sp := m.GetSubPath(); sp != "" {
			errs = append(errs, validateLocalDescendingPath(sp, p.Child("subPath"))...)
		}
	}
	return errs
}

// cleanMountPath normalizes a mount path so that "/data" and "/data/" count as the same mount point.
func cleanMountPath(p string) string { return posixpath.Clean(p) }

// ---------------------------------------------------------------- probes and handlers

// validateProbe checks a probe has exactly one handler and sane timings; liveness and startup probes need
// successThreshold 1.
func validateProbe(pr *corev1.Probe, successMustBeOne bool, path *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	errs := validateHandler(pr.GetExec(), pr.GetHttpGet(), pr.GetTcpSocket(), path)
	errs = append(errs, validateNonnegative(pr.GetInitialDelaySeconds(), path.Child("initialDelaySeconds"))...)
	errs = append(errs, validatePositive(pr.GetTimeoutSeconds(), path.Child("timeoutSeconds"))...)
	errs = append(errs, validatePositive(pr.GetPeriodSeconds(), path.Child("periodSeconds"))...)
	if st := pr.GetSuccessThreshold(); st <= 0 {
		errs = append(errs, validatePositive(st, path.Child("successThreshold"))...)
	} else if successMustBeOne && st != 1 {
		errs = append(errs, field.Invalid(path.Child("successThreshold"), st, "must be 1"))
	}
	errs = append(errs, validatePositive(pr.GetFailureThreshold(), path.Child("failureThreshold"))...)
	if pr.TerminationGracePeriodSeconds != nil {
		errs = append(errs, validatePositive(pr.GetTerminationGracePeriodSeconds(), path.Child("terminationGracePeriodSeconds"))...)
	}
	return errs
}

// validateHandler checks exactly one of exec, httpGet and tcpSocket is set, and validates it.
func validateHandler(exec *corev1.ExecAction, httpGet *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	one := func(name string, set bool, validate func(*field.Path) field.ErrorList) {
		if !set {
			return
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(path.Child(name), "may not specify more than 1 handler type"))
			return
		}
		n++
		errs = append(errs, validate(path.Child(name))...)
	}
	one("exec", exec != nil, func(p *field.Path) field.ErrorList {
		if len(exec.GetCommand()) == 0 {
			return field.ErrorList{field.Required(p.Child("command"), "")}
		}
		return nil
	})
	one("httpGet", httpGet != nil, func(p *field.Path) field.ErrorList {
		var errs field.ErrorList
		if httpGet.GetPath() == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		}
		errs = append(errs, ValidatePortNumOrName(httpGet.GetPort(), p.Child("port"))...)
		if !slices.Contains(supportedHTTPSchemes, httpGet.GetScheme()) {
			errs = append(errs, field.NotSupported(p.Child("scheme"), httpGet.GetScheme(), supportedHTTPSchemes))
		}
		for i, h := range httpGet.GetHttpHeaders() {
			for _, msg := range IsHTTPHeaderName(h.GetName()) {
				errs = append(errs, field.Invalid(p.Child("httpHeaders").Index(i).Child("name"), h.GetName(), msg))
			}
		}
		return errs
	})
	one("tcpSocket", tcp != nil, func(p *field.Path) field.ErrorList {
		return ValidatePortNumOrName(tcp.GetPort(), p.Child("port"))
	})
	if n == 0 {
		errs = append(errs, field.Required(path, "must specify a handler type"))
	}
	return errs
}
