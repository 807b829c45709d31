package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"slices"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/validation/field"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// ValidateObject validates a new object of any served kind, as the apiserver does on create. Objects are
// expected to have been defaulted (pkg/api/defaults) first, like Kubernetes validates defaulted objects:
// fields that defaulting always fills (a container port's protocol, a pod's restartPolicy...) are required.
func ValidateObject(obj api.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return ValidateNamespace(o)
	case *corev1.Pod:
		return ValidatePod(o)
	case *corev1.Node:
		return ValidateNode(o)
	case *corev1.Service:
		return ValidateService(o)
	case *corev1.Endpoints:
		return ValidateEndpoints(o)
	case *corev1.ConfigMap:
		return ValidateConfigMap(o)
	case *corev1.Secret:
		return ValidateSecret(o)
	case *corev1.Event:
		return ValidateEvent(o)
	case *appsv1.ReplicaSet:
		return ValidateReplicaSet(o)
	case *appsv1.Deployment:
		return ValidateDeployment(o)
	case *coordinationv1.Lease:
		return ValidateLease(o)
	}
	return unknownKind(obj)
}

// ValidateObjectUpdate validates an update of old to obj: obj itself (as ValidateObject) and the changes
// (immutable fields, the few mutable fields of a pod...). obj and old must be of the same kind.
func ValidateObjectUpdate(obj, old api.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return update(o, old, ValidateNamespaceUpdate)
	case *corev1.Pod:
		return update(o, old, ValidatePodUpdate)
	case *corev1.Node:
		return update(o, old, ValidateNodeUpdate)
	case *corev1.Service:
		return update(o, old, ValidateServiceUpdate)
	case *corev1.Endpoints:
		return update(o, old, ValidateEndpointsUpdate)
	case *corev1.ConfigMap:
		return update(o, old, ValidateConfigMapUpdate)
	case *corev1.Secret:
		return update(o, old, ValidateSecretUpdate)
	case *corev1.Event:
		return update(o, old, ValidateEventUpdate)
	case *appsv1.ReplicaSet:
		return update(o, old, ValidateReplicaSetUpdate)
	case *appsv1.Deployment:
		return update(o, old, ValidateDeploymentUpdate)
	case *coordinationv1.Lease:
		return update(o, old, ValidateLeaseUpdate)
	}
	return unknownKind(obj)
}

// ValidateStatusUpdate validates a write of the status subresource: the metadata must not change in
// forbidden ways and the new status must be valid. Kinds without a status validate as ValidateObjectUpdate.
func ValidateStatusUpdate(obj, old api.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return update(o, old, ValidateNamespaceStatusUpdate)
	case *corev1.Pod:
		return update(o, old, ValidatePodStatusUpdate)
	case *corev1.Node:
		return update(o, old, ValidateNodeStatusUpdate)
	case *corev1.Service:
		return update(o, old, ValidateServiceStatusUpdate)
	case *appsv1.ReplicaSet:
		return update(o, old, ValidateReplicaSetStatusUpdate)
	case *appsv1.Deployment:
		return update(o, old, ValidateDeploymentStatusUpdate)
	}
	return ValidateObjectUpdate(obj, old)
}

func update[T api.Object](obj T, old api.Object, fn func(obj, old T) field.ErrorList) field.ErrorList {
	o, ok := old.(T)
	if !ok {
		return field.ErrorList{field.InternalError(field.NewPath("kind"), fmt.Errorf("cannot update a %T from a %T", obj, old))}
	}
	return filterFinalizerConflict(fn(obj, o), o.GetMetadata())
}

func unknownKind(obj api.Object) field.ErrorList {
	return field.ErrorList{field.InternalError(field.NewPath("kind"), fmt.Errorf("no validation for %T", obj))}
}

var metadataPath = field.NewPath("metadata")

// ---------------------------------------------------------------- Namespace

// ValidateNamespace: the name is a DNS-1123 label; spec.finalizers are finalizer names; status.phase, when
// set, is Active or Terminating.
func ValidateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := ValidateObjectMeta(ns.GetMetadata(), false, NameIsDNSLabel, metadataPath)
	for i, f := range ns.GetSpec().GetFinalizers() {
		errs = append(errs, ValidateFinalizerName(f, field.NewPath("spec", "finalizers").Index(i))...)
	}
	errs = append(errs, validateNamespaceStatus(ns.GetStatus())...)
	return errs
}

func validateNamespaceStatus(st *corev1.NamespaceStatus) field.ErrorList {
	switch p := st.GetPhase(); p {
	case "", "Active", "Terminating":
		return nil
	default:
		return field.ErrorList{field.NotSupported(field.NewPath("status", "phase"), p, []string{"Active", "Terminating"})}
	}
}

// ValidateNamespaceUpdate validates a namespace update.
func ValidateNamespaceUpdate(ns, old *corev1.Namespace) field.ErrorList {
	errs := ValidateObjectMetaUpdate(ns.GetMetadata(), old.GetMetadata(), metadataPath)
	return append(errs, ValidateNamespace(ns)...)
}

// ValidateNamespaceStatusUpdate validates a namespace status write.
func ValidateNamespaceStatusUpdate(ns, old *corev1.Namespace) field.ErrorList {
	errs := ValidateObjectMetaUpdate(ns.GetMetadata(), old.GetMetadata(), metadataPath)
	return append(errs, validateNamespaceStatus(ns.GetStatus())...)
}

// ---------------------------------------------------------------- Node

var supportedTaintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// validateTaintEffect: NoSchedule, PreferNoSchedule or NoExecute (or empty, for tolerations).
func validateTaintEffect(effect string, allowEmpty bool, path *field.Path) field.ErrorList {
	if effect == "" && !allowEmpty {
		return field.ErrorList{field.Required(path, "")}
	}
	if effect == "" || slices.Contains(supportedTaintEffects, effect) {
		return nil
	}
	return field.ErrorList{field.NotSupported(path, effect, supportedTaintEffects)}
}

// ValidateNode: the name is a DNS subdomain; podCIDR(s) are CIDRs; taints have a qualified key, a label
// value, a known effect and are unique by key and effect; capacity and allocatable hold valid quantities
// of known resources.
func ValidateNode(n *corev1.Node) field.ErrorList {
	errs := ValidateObjectMeta(n.GetMetadata(), false, NameIsDNSSubdomain, metadataPath)
	spec := field.NewPath("spec")
	if c := n.GetSpec().GetPodCidr(); c != "" {
		for _, msg := range IsValidCIDR(c) {
			errs = append(errs, field.Invalid(spec.Child("podCIDR"), c, msg))
		}
	}
	cidrs := n.GetSpec().GetPodCidrs()
	cidrsOK := true
	for i, c := range cidrs {
		for _, msg := range IsValidCIDR(c) {
			cidrsOK = false
			errs = append(errs, field.Invalid(spec.Child("podCIDRs").Index(i), c, msg))
		}
	}
	if cidrsOK && len(cidrs) > 1 && !isDualStack(cidrs) {
		errs = append(errs, field.Invalid(spec.Child("podCIDRs"), cidrs, "may specify no more than one CIDR for each IP family"))
	}
	errs = append(errs, validateTaints(n.GetSpec().GetTaints(), spec.Child("taints"))...)
	errs = append(errs, validateNodeStatus(n.GetStatus())...)
	return errs
}

// isDualStack: exactly one IPv4 and one IPv6 entry (addresses or CIDRs).
func isDualStack(values []string) bool {
	if len(values) != 2 {
		return false
	}
	v4 := 0
	for _, v := range values {
		ip := net.ParseIP(v)
		if ip == nil {
			var err error
			if ip, _, err = net.ParseCIDR(v); err != nil {
				return false
			}
		}
		if ip.To4() != nil {
			v4++
		}
	}
	return v4 == 1
}

func validateTaints(taints []*corev1.Taint, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[[2]string]bool{}
	for i, t := range taints {
		p := path.Index(i)
		errs = append(errs, ValidateLabelName(t.GetKey(), p.Child("key"))...)
		for _, msg := range IsValidLabelValue(t.GetValue()) {
			errs = append(errs, field.Invalid(p.Child("value"), t.GetValue(), msg))
		}
		errs = append(errs, validateTaintEffect(t.GetEffect(), false, p.Child("effect"))...)
		k := [2]string{t.GetKey(), t.GetEffect()}
		if seen[k] {
			d := field.Duplicate(p, t.GetKey()+":"+t.GetEffect())
			d.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, d)
		}
		seen[k] = true
	}
	return errs
}

func validateNodeStatus(st *corev1.NodeStatus) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("status")
	for _, m := range []struct {
		name   string
		values map[string]string
	}{{"capacity", st.GetCapacity()}, {"allocatable", st.GetAllocatable()}} {
		for _, k := range sortedMapKeys(m.values) {
			p := path.Child(m.name).Key(k)
			errs = append(errs, validateNodeResourceName(k, p)...)
			_, qerrs := ValidateQuantity(k, m.values[k], p)
			errs = append(errs, qerrs...)
		}
	}
	for i, a := range st.GetAddresses() {
		p := path.Child("addresses").Index(i)
		if a.GetType() == "" {
			errs = append(errs, field.Required(p.Child("type"), ""))
		}
		if a.GetAddress() == "" {
			errs = append(errs, field.Required(p.Child("address"), ""))
		}
	}
	if port := st.GetDaemonEndpoints().GetKubeletEndpoint().GetPort(); port != 0 {
		for _, msg := range IsValidPortNum(int(port)) {
			errs = append(errs, field.Invalid(path.Child("daemonEndpoints", "kubeletEndpoint", "Port"), port, msg))
		}
	}
	return errs
}

// ValidateNodeUpdate: the node is valid, and podCIDR(s) and providerID may only be set, never changed.
func ValidateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := ValidateObjectMetaUpdate(n.GetMetadata(), old.GetMetadata(), metadataPath)
	errs = append(errs, ValidateNode(n)...)
	spec := field.NewPath("spec")
	if o := old.GetSpec().GetPodCidr(); o != "" && o != n.GetSpec().GetPodCidr() {
		errs = append(errs, field.Forbidden(spec.Child("podCIDR"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if o := old.GetSpec().GetPodCidrs(); len(o) > 0 && !slices.Equal(o, n.GetSpec().GetPodCidrs()) {
		errs = append(errs, field.Forbidden(spec.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if o := old.GetSpec().GetProviderId(); o != "" && o != n.GetSpec().GetProviderId() {
		errs = append(errs, field.Forbidden(spec.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}

// ValidateNodeStatusUpdate validates a node status write.
func ValidateNodeStatusUpdate(n, old *corev1.Node) field.ErrorList {
	errs := ValidateObjectMetaUpdate(n.GetMetadata(), old.GetMetadata(), metadataPath)
	return append(errs, validateNodeStatus(n.GetStatus())...)
}

// ---------------------------------------------------------------- ConfigMap and Secret

// MaxSecretSize bounds the data of a ConfigMap or Secret (1 MiB).
const MaxSecretSize = 1 << 20

// ValidateConfigMap: keys are config keys, not repeated between data and binaryData, and the total size
// is at most 1 MiB.
func ValidateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := ValidateObjectMeta(cm.GetMetadata(), true, NameIsDNSSubdomain, metadataPath)
	size := 0
	dataPath, binPath := field.NewPath("data"), field.NewPath("binaryData")
	for _, k := range sortedMapKeys(cm.GetData()) {
		for _, msg := range IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, msg))
		}
		if _, dup := cm.GetBinaryData()[k]; dup {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, "duplicate of key present in binaryData"))
		}
		size += len(cm.GetData()[k])
	}
	for _, k := range sortedMapKeys(cm.GetBinaryData()) {
		for _, msg := range IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(binPath.Key(k), k, msg))
		}
		size += len(cm.GetBinaryData()[k])
	}
	if size > MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", MaxSecretSize))
	}
	return errs
}

// ValidateConfigMapUpdate: an immutable ConfigMap keeps its data and stays immutable.
func ValidateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	errs := ValidateObjectMetaUpdate(cm.GetMetadata(), old.GetMetadata(), metadataPath)
	if old.GetImmutable() {
		if !cm.GetImmutable() {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !mapsEqual(cm.GetData(), old.GetData(), func(a, b string) bool { return a == b }) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
		if !mapsEqual(cm.GetBinaryData(), old.GetBinaryData(), bytes.Equal) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, ValidateConfigMap(cm)...)
}

func mapsEqual[V any](a, b map[string]V, eq func(a, b V) bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !eq(va, vb) {
			return false
		}
	}
	return true
}

// Secret types and their required keys.
const (
	SecretTypeOpaque              = "Opaque"
	SecretTypeServiceAccountToken = "kubernetes.io/service-account-token"
	SecretTypeDockercfg           = "kubernetes.io/dockercfg"
	SecretTypeDockerConfigJSON    = "kubernetes.io/dockerconfigjson"
	SecretTypeBasicAuth           = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth             = "kubernetes.io/ssh-auth"
	SecretTypeTLS                 = "kubernetes.io/tls"
)

// ValidateSecret: keys are config keys, the total size is at most 1 MiB, and the typed secrets carry
// their required keys (.dockerconfigjson holding JSON, tls.crt and tls.key, ...).
func ValidateSecret(s *corev1.Secret) field.ErrorList {
	errs := ValidateObjectMeta(s.GetMetadata(), true, NameIsDNSSubdomain, metadataPath)
	dataPath := field.NewPath("data")
	size := 0
	for _, k := range sortedMapKeys(s.GetData()) {
		for _, msg := range IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, msg))
		}
		size += len(s.GetData()[k])
	}
	// stringData is merged into data by defaulting; validate what is left of it in the same way.
	for _, k := range sortedMapKeys(s.GetStringData()) {
		for _, msg := range IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("stringData").Key(k), k, msg))
		}
		if _, dup := s.GetData()[k]; !dup {
			size += len(s.GetStringData()[k])
		}
	}
	if size > MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", MaxSecretSize))
	}
	has := func(k string) bool {
		_, ok := s.GetData()[k]
		if !ok {
			_, ok = s.GetStringData()[k]
		}
		return ok
	}
	value := func(k string) []byte {
		if v, ok := s.GetStringData()[k]; ok {
			return []byte(v)
		}
		return s.GetData()[k]
	}
	requireJSON := func(k string) {
		if !has(k) {
			errs = append(errs, field.Required(dataPath.Key(k), ""))
			return
		}
		var v map[string]any
		if err := json.Unmarshal(value(k), &v); err != nil {
			errs = append(errs, field.Invalid(dataPath.Key(k), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.GetType() {
	case SecretTypeServiceAccountToken:
		if s.GetMetadata().GetAnnotations()["kubernetes.io/service-account.name"] == "" {
			errs = append(errs, field.Required(metadataPath.Child("annotations").Key("kubernetes.io/service-account.name"), ""))
		}
	case SecretTypeDockercfg:
		requireJSON(".dockercfg")
	case SecretTypeDockerConfigJSON:
		requireJSON(".dockerconfigjson")
	case SecretTypeBasicAuth:
		if !has("username") && !has("password") {
			errs = append(errs, field.Required(dataPath.Key("username"), ""), field.Required(dataPath.Key("password"), ""))
		}
	case SecretTypeSSHAuth:
		if len(value("ssh-privatekey")) == 0 {
			errs = append(errs, field.Required(dataPath.Key("ssh-privatekey"), ""))
		}
	case SecretTypeTLS:
		for _, k := range []string{"tls.crt", "tls.key"} {
			if !has(k) {
				errs = append(errs, field.Required(dataPath.Key(k), ""))
			}
		}
	}
	return errs
}

// ValidateSecretUpdate: the type never changes; an immutable Secret keeps its data and stays immutable.
func ValidateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := ValidateObjectMetaUpdate(s.GetMetadata(), old.GetMetadata(), metadataPath)
	errs = append(errs, ValidateImmutableField(s.GetType(), old.GetType(), field.NewPath("type"))...)
	if old.GetImmutable() {
		if !s.GetImmutable() {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !mapsEqual(secretData(s), secretData(old), bytes.Equal) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, ValidateSecret(s)...)
}

// secretData is a secret's data with its stringData merged in, as defaulting does.
func secretData(s *corev1.Secret) map[string][]byte {
	if len(s.GetStringData()) == 0 {
		return s.GetData()
	}
	out := make(map[string][]byte, len(s.GetData())+len(s.GetStringData()))
	for k, v := range s.GetData() {
		out[k] = v
	}
	for k, v := range s.GetStringData() {
		out[k] = []byte(v)
	}
	return out
}

// ---------------------------------------------------------------- Event

// ValidateEvent: the involved object is named (kind and name) and in the event's namespace (or, for a
// cluster-scoped object, the event is in "default"); type, when set, is Normal or Warning; count >= 0.
func ValidateEvent(ev *corev1.Event) field.ErrorList {
	errs := ValidateObjectMeta(ev.GetMetadata(), true, NameIsDNSSubdomain, metadataPath)
	io := field.NewPath("involvedObject")
	if ev.GetInvolvedObject() == nil {
		errs = append(errs, field.Required(io, ""))
	} else {
		if ev.GetInvolvedObject().GetKind() == "" {
			errs = append(errs, field.Required(io.Child("kind"), ""))
		}
		if ev.GetInvolvedObject().GetName() == "" {
			errs = append(errs, field.Required(io.Child("name"), ""))
		}
		ns, ions := ev.GetMetadata().GetNamespace(), ev.GetInvolvedObject().GetNamespace()
		if ions == "" && ns != "" && ns != "default" || ions != "" && ns != ions {
			errs = append(errs, field.Invalid(io.Child("namespace"), ions, "does not match event.namespace"))
		}
	}
	switch t := ev.GetType(); t {
	case "", "Normal", "Warning":
	default:
		errs = append(errs, field.NotSupported(field.NewPath("type"), t, []string{"Normal", "Warning"}))
	}
	errs = append(errs, validateNonnegative(ev.GetCount(), field.NewPath("count"))...)
	return errs
}

// ValidateEventUpdate validates an event update (the recorder bumps count and lastTimestamp).
func ValidateEventUpdate(ev, old *corev1.Event) field.ErrorList {
	errs := ValidateObjectMetaUpdate(ev.GetMetadata(), old.GetMetadata(), metadataPath)
	return append(errs, ValidateEvent(ev)...)
}

// ---------------------------------------------------------------- Lease

// ValidateLease: leaseDurationSeconds, when set, is positive; leaseTransitions is not negative.
func ValidateLease(l *coordinationv1.Lease) field.ErrorList {
	errs := ValidateObjectMeta(l.GetMetadata(), true, NameIsDNSSubdomain, metadataPath)
	spec := field.NewPath("spec")
	s := l.GetSpec()
	if s == nil {
		s = &coordinationv1.LeaseSpec{}
	}
	if d := s.LeaseDurationSeconds; d != nil {
		errs = append(errs, validatePositive(*d, spec.Child("leaseDurationSeconds"))...)
	}
	if t := s.LeaseTransitions; t != nil {
		errs = append(errs, validateNonnegative(*t, spec.Child("leaseTransitions"))...)
	}
	return errs
}

// ValidateLeaseUpdate validates a lease update.
func ValidateLeaseUpdate(l, old *coordinationv1.Lease) field.ErrorList {
	errs := ValidateObjectMetaUpdate(l.GetMetadata(), old.GetMetadata(), metadataPath)
	return append(errs, ValidateLease(l)...)
}

// ---------------------------------------------------------------- helpers for update validation

// filterFinalizerConflict drops the "orphan and foregroundDeletion cannot be both set" error of an update
// when the stored object already had both (the apiserver's delete may set both): only an update that adds
// the conflict is refused.
func filterFinalizerConflict(errs field.ErrorList, old *metav1.ObjectMeta) field.ErrorList {
	if !slices.Contains(old.GetFinalizers(), "orphan") || !slices.Contains(old.GetFinalizers(), "foregroundDeletion") {
		return errs
	}
	return errs.Filter(func(e *field.Error) bool {
		return !(e.Field == "metadata.finalizers" && e.Type == field.ErrorTypeInvalid)
	})
}
