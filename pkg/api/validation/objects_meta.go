package validation

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api/resource"
	"github.com/coxswain/coxswain/pkg/api/validation/field"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Messages shared by several validators, in Kubernetes' words.
const (
	isNegativeErrorMsg   = "must be greater than or equal to 0"
	isNotPositiveMsg     = "must be greater than 0"
	fieldImmutableErrMsg = "field is immutable"
	isNotIntegerErrorMsg = "must be an integer"
)

// The finalizers Kubernetes defines without a domain prefix; every other finalizer must be qualified.
var standardFinalizers = []string{"kubernetes", "orphan", "foregroundDeletion"}

// ValidateNameFunc checks an object name; prefix is true for metadata.generateName, whose trailing dash is
// allowed because a random suffix follows it.
type ValidateNameFunc func(name string, prefix bool) []string

// maskTrailingDash lets a generateName end in '-' (the random suffix follows).
func maskTrailingDash(name string) string {
	if len(name) > 1 && strings.HasSuffix(name, "-") {
		return name[:len(name)-1] + "a"
	}
	return name
}

// NameIsDNSSubdomain validates a name that must be a DNS-1123 subdomain (most kinds).
func NameIsDNSSubdomain(name string, prefix bool) []string {
	if prefix {
		name = maskTrailingDash(name)
	}
	return IsDNS1123Subdomain(name)
}

// NameIsDNSLabel validates a name that must be a DNS-1123 label (namespaces).
func NameIsDNSLabel(name string, prefix bool) []string {
	if prefix {
		name = maskTrailingDash(name)
	}
	return IsDNS1123Label(name)
}

// NameIsDNS1035Label validates a name that must be a DNS-1035 label (services: the name is a DNS name and
// an environment variable prefix, so it must start with a letter).
func NameIsDNS1035Label(name string, prefix bool) []string {
	if prefix {
		name = maskTrailingDash(name)
	}
	return IsDNS1035Label(name)
}

// ValidateObjectMeta validates the metadata of a new object: name (with nameFn) or generateName, namespace
// (required when namespaced, forbidden otherwise), generation, labels, annotations, owner references and
// finalizers.
func ValidateObjectMeta(m *metav1.ObjectMeta, namespaced bool, nameFn ValidateNameFunc, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if gn := m.GetGenerateName(); gn != "" {
		for _, msg := range nameFn(gn, true) {
			errs = append(errs, field.Invalid(path.Child("generateName"), gn, msg))
		}
	}
	if name := m.GetName(); name == "" {
		errs = append(errs, field.Required(path.Child("name"), "name or generateName is required"))
	} else {
		for _, msg := range nameFn(name, false) {
			errs = append(errs, field.Invalid(path.Child("name"), name, msg))
		}
	}
	ns := m.GetNamespace()
	switch {
	case namespaced && ns == "":
		errs = append(errs, field.Required(path.Child("namespace"), ""))
	case namespaced:
		for _, msg := range NameIsDNSLabel(ns, false) {
			errs = append(errs, field.Invalid(path.Child("namespace"), ns, msg))
		}
	case ns != "":
		errs = append(errs, field.Forbidden(path.Child("namespace"), "not allowed on this type"))
	}
	if g := m.GetGeneration(); g < 0 {
		errs = append(errs, field.Invalid(path.Child("generation"), g, isNegativeErrorMsg))
	}
	if m != nil && m.DeletionGracePeriodSeconds != nil && m.GetDeletionGracePeriodSeconds() < 0 {
		errs = append(errs, field.Invalid(path.Child("deletionGracePeriodSeconds"), m.GetDeletionGracePeriodSeconds(), isNegativeErrorMsg))
	}
	errs = append(errs, ValidateLabels(m.GetLabels(), path.Child("labels"))...)
	errs = append(errs, ValidateAnnotations(m.GetAnnotations(), path.Child("annotations"))...)
	errs = append(errs, ValidateOwnerReferences(m.GetOwnerReferences(), path.Child("ownerReferences"))...)
	errs = append(errs, ValidateFinalizers(m.GetFinalizers(), path.Child("finalizers"))...)
	return errs
}

// ValidateObjectMetaUpdate validates the metadata of an update: name, namespace and uid never change, and
// an object being deleted takes no new finalizers. The new metadata itself is checked by ValidateObjectMeta.
func ValidateObjectMetaUpdate(m, old *metav1.ObjectMeta, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, ValidateImmutableField(m.GetName(), old.GetName(), path.Child("name"))...)
	errs = append(errs, ValidateImmutableField(m.GetNamespace(), old.GetNamespace(), path.Child("namespace"))...)
	errs = append(errs, ValidateImmutableField(m.GetUid(), old.GetUid(), path.Child("uid"))...)
	if old.GetDeletionTimestamp() != nil {
		var added []string
		for _, f := range m.GetFinalizers() {
			if !slices.Contains(old.GetFinalizers(), f) && !slices.Contains(added, f) {
				added = append(added, f)
			}
		}
		if len(added) > 0 {
			sort.Strings(added)
			errs = append(errs, field.Forbidden(path.Child("finalizers"),
				fmt.Sprintf("no new finalizers can be added if the object is being deleted, found new finalizers %#v", added)))
		}
	}
	return errs
}

// ValidateImmutableField reports "field is immutable" when value differs from old.
func ValidateImmutableField[T comparable](value, old T, path *field.Path) field.ErrorList {
	if value == old {
		return nil
	}
	return field.ErrorList{field.Invalid(path, value, fieldImmutableErrMsg)}
}

// ValidateOwnerReferences checks each reference names its owner completely and that at most one is the
// controller.
func ValidateOwnerReferences(refs []*metav1.OwnerReference, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	controller := ""
	for i, ref := range refs {
		p := path.Index(i)
		av := ref.GetApiVersion()
		version := av
		if g, v, ok := strings.Cut(av, "/"); ok {
			version = v
			if g == "" || strings.Contains(v, "/") {
				version = ""
			}
		}
		if version == "" {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), av, "version must not be empty"))
		}
		if ref.GetKind() == "" {
			errs = append(errs, field.Invalid(p.Child("kind"), ref.GetKind(), "kind must not be empty"))
		}
		if ref.GetName() == "" {
			errs = append(errs, field.Invalid(p.Child("name"), ref.GetName(), "name must not be empty"))
		}
		if ref.GetUid() == "" {
			errs = append(errs, field.Invalid(p.Child("uid"), ref.GetUid(), "uid must not be empty"))
		}
		if ref.GetController() {
			cur := ref.GetKind() + "/" + ref.GetName()
			if controller != "" {
				errs = append(errs, field.Invalid(p.Child("controller"), true, fmt.Sprintf(
					"Only one reference can have Controller set to true. Found \"true\" in references for %s and %s", controller, cur)))
			} else {
				controller = cur
			}
		}
	}
	return errs
}

// ValidateFinalizers checks every finalizer name (ValidateFinalizerName) and that "orphan" and
// "foregroundDeletion" are not both set.
func ValidateFinalizers(finalizers []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		errs = append(errs, ValidateFinalizerName(f, path.Index(i))...)
	}
	if slices.Contains(finalizers, "orphan") && slices.Contains(finalizers, "foregroundDeletion") {
		errs = append(errs, field.Invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
	}
	return errs
}

// ValidateFinalizerName checks a finalizer is a qualified name and, without a domain prefix, one of the
// standard finalizers (kubernetes, orphan, foregroundDeletion).
func ValidateFinalizerName(name string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range IsQualifiedName(name) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	if len(errs) == 0 && !strings.Contains(name, "/") && !slices.Contains(standardFinalizers, name) {
		errs = append(errs, field.Invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

// validateNonnegative reports a negative value.
func validateNonnegative[T int32 | int64](v T, path *field.Path) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(path, v, isNegativeErrorMsg)}
	}
	return nil
}

// validatePositive reports a value below 1.
func validatePositive[T int32 | int64](v T, path *field.Path) field.ErrorList {
	if v <= 0 {
		return field.ErrorList{field.Invalid(path, v, isNotPositiveMsg)}
	}
	return nil
}

// validateDNS1123Label turns IsDNS1123Label's messages into field errors.
func validateDNS1123Label(v string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range IsDNS1123Label(v) {
		errs = append(errs, field.Invalid(path, v, msg))
	}
	return errs
}

// validateDNS1123Subdomain turns IsDNS1123Subdomain's messages into field errors.
func validateDNS1123Subdomain(v string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range IsDNS1123Subdomain(v) {
		errs = append(errs, field.Invalid(path, v, msg))
	}
	return errs
}

// validateIP checks an IP address.
func validateIP(v string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range IsValidIP(v) {
		errs = append(errs, field.Invalid(path, v, msg))
	}
	return errs
}

// validateQualifiedName turns IsQualifiedName's messages into field errors.
func validateQualifiedName(v string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range IsQualifiedName(v) {
		errs = append(errs, field.Invalid(path, v, msg))
	}
	return errs
}

// ---------------------------------------------------------------- label selectors

// The operators of a LabelSelectorRequirement.
const (
	labelSelectorOpIn           = "In"
	labelSelectorOpNotIn        = "NotIn"
	labelSelectorOpExists       = "Exists"
	labelSelectorOpDoesNotExist = "DoesNotExist"
)

// ValidateLabelSelector validates a LabelSelector: matchLabels are labels, each matchExpressions entry has a
// qualified key, a known operator and values that suit it.
func ValidateLabelSelector(sel *metav1.LabelSelector, path *field.Path) field.ErrorList {
	if sel == nil {
		return nil
	}
	errs := ValidateLabels(sel.GetMatchLabels(), path.Child("matchLabels"))
	for i, r := range sel.GetMatchExpressions() {
		p := path.Child("matchExpressions").Index(i)
		switch r.GetOperator() {
		case labelSelectorOpIn, labelSelectorOpNotIn:
			if len(r.GetValues()) == 0 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case labelSelectorOpExists, labelSelectorOpDoesNotExist:
			if len(r.GetValues()) > 0 {
				errs = append(errs, field.Forbidden(p.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), r.GetOperator(), "not a valid selector operator"))
		}
		errs = append(errs, ValidateLabelName(r.GetKey(), p.Child("key"))...)
		for j, v := range r.GetValues() {
			for _, msg := range IsValidLabelValue(v) {
				errs = append(errs, field.Invalid(p.Child("values").Index(j), v, msg))
			}
		}
	}
	return errs
}

// labelSelectorMatches reports whether a valid, non-nil selector matches labels (an empty selector matches
// everything).
func labelSelectorMatches(sel *metav1.LabelSelector, labels map[string]string) bool {
	for k, v := range sel.GetMatchLabels() {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range sel.GetMatchExpressions() {
		v, has := labels[r.GetKey()]
		switch r.GetOperator() {
		case labelSelectorOpIn:
			if !has || !slices.Contains(r.GetValues(), v) {
				return false
			}
		case labelSelectorOpNotIn:
			if has && slices.Contains(r.GetValues(), v) {
				return false
			}
		case labelSelectorOpExists:
			if !has {
				return false
			}
		case labelSelectorOpDoesNotExist:
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// selectorValue renders a LabelSelector in error messages the way kubectl prints one ("app=web,tier in (a,b)").
type selectorValue struct{ sel *metav1.LabelSelector }

func (s selectorValue) String() string {
	if s.sel == nil {
		return "null"
	}
	var parts []string
	keys := make([]string, 0, len(s.sel.GetMatchLabels()))
	for k := range s.sel.GetMatchLabels() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+s.sel.GetMatchLabels()[k])
	}
	for _, r := range s.sel.GetMatchExpressions() {
		switch r.GetOperator() {
		case labelSelectorOpIn:
			parts = append(parts, r.GetKey()+" in ("+strings.Join(r.GetValues(), ",")+")")
		case labelSelectorOpNotIn:
			parts = append(parts, r.GetKey()+" notin ("+strings.Join(r.GetValues(), ",")+")")
		case labelSelectorOpExists:
			parts = append(parts, r.GetKey())
		case labelSelectorOpDoesNotExist:
			parts = append(parts, "!"+r.GetKey())
		default:
			parts = append(parts, r.GetKey()+" "+r.GetOperator()+" ("+strings.Join(r.GetValues(), ",")+")")
		}
	}
	if len(parts) == 0 {
		return "<none>"
	}
	return strings.Join(parts, ",")
}

// labelSelectorEqual compares selectors, a nil selector being equal to an empty one.
func labelSelectorEqual(a, b *metav1.LabelSelector) bool {
	if a == nil {
		a = &metav1.LabelSelector{}
	}
	if b == nil {
		b = &metav1.LabelSelector{}
	}
	return proto.Equal(a, b)
}

// ---------------------------------------------------------------- IntOrString

// intOrStringValue is the value an IntOrString holds, for error messages (nil when unset).
func intOrStringValue(v *metav1.IntOrString) any {
	switch x := v.GetValue().(type) {
	case *metav1.IntOrString_IntVal:
		return x.IntVal
	case *metav1.IntOrString_StrVal:
		return x.StrVal
	}
	return nil
}

// ValidatePortNumOrName checks a port given as a number (1-65535) or a name (IANA_SVC_NAME).
func ValidatePortNumOrName(port *metav1.IntOrString, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch x := port.GetValue().(type) {
	case *metav1.IntOrString_IntVal:
		for _, msg := range IsValidPortNum(int(x.IntVal)) {
			errs = append(errs, field.Invalid(path, x.IntVal, msg))
		}
	case *metav1.IntOrString_StrVal:
		for _, msg := range IsValidPortName(x.StrVal) {
			errs = append(errs, field.Invalid(path, x.StrVal, msg))
		}
	default:
		errs = append(errs, field.Required(path, ""))
	}
	return errs
}

const (
	percentFmt    = "[0-9]+%"
	percentErrMsg = "a valid percent string must be a numeric string followed by an ending '%'"
)

// IsValidPercent checks a percentage string such as "25%".
func IsValidPercent(percent string) []string {
	if len(percent) < 2 || percent[len(percent)-1] != '%' {
		return []string{RegexError(percentErrMsg, percentFmt, "1%", "93%")}
	}
	for i := 0; i < len(percent)-1; i++ {
		if !isDigit(percent[i]) {
			return []string{RegexError(percentErrMsg, percentFmt, "1%", "93%")}
		}
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

const (
	httpHeaderNameFmt    = "[-A-Za-z0-9]+"
	httpHeaderNameErrMsg = "a valid HTTP header must consist of alphanumeric characters or '-'"
)

// IsHTTPHeaderName checks an HTTP header name.
func IsHTTPHeaderName(value string) []string {
	ok := value != ""
	for i := 0; i < len(value) && ok; i++ {
		ok = isAlnum(value[i]) || value[i] == '-'
	}
	if !ok {
		return []string{RegexError(httpHeaderNameErrMsg, httpHeaderNameFmt, "X-Header-Name")}
	}
	return nil
}

// ---------------------------------------------------------------- resources and quantities

// Resource names.
const (
	ResourceCPU              = "cpu"
	ResourceMemory           = "memory"
	ResourceEphemeralStorage = "ephemeral-storage"
	ResourcePods             = "pods"
	hugePagesPrefix          = "hugepages-"
)

func isStandardContainerResourceName(name string) bool {
	switch name {
	case ResourceCPU, ResourceMemory, ResourceEphemeralStorage:
		return true
	}
	return strings.HasPrefix(name, hugePagesPrefix)
}

func isStandardNodeResourceName(name string) bool {
	return name == ResourcePods || isStandardContainerResourceName(name)
}

// isNativeResourceName: unprefixed or in the kubernetes.io domain.
func isNativeResourceName(name string) bool {
	return !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/")
}

// isExtendedResourceName: a device or other resource advertised by a node ("example.com/gpu").
func isExtendedResourceName(name string) bool {
	if isNativeResourceName(name) || strings.HasPrefix(name, "requests.") {
		return false
	}
	return len(IsQualifiedName("requests."+name)) == 0
}

// isIntegerResourceName: resources counted in whole units.
func isIntegerResourceName(name string) bool {
	return name == ResourcePods || isExtendedResourceName(name)
}

// validateContainerResourceName: cpu, memory, ephemeral-storage, hugepages-<size> or an extended resource.
func validateContainerResourceName(name string, path *field.Path) field.ErrorList {
	errs := validateQualifiedName(name, path)
	if len(errs) != 0 {
		return errs
	}
	if !strings.Contains(name, "/") {
		if !isStandardContainerResourceName(name) {
			errs = append(errs, field.Invalid(path, name, "must be a standard resource for containers"))
		}
	} else if !isNativeResourceName(name) && !isExtendedResourceName(name) {
		errs = append(errs, field.Invalid(path, name, "doesn't follow extended resource name standard"))
	}
	return errs
}

// validateNodeResourceName: the container resources, pods, or a fully qualified name.
func validateNodeResourceName(name string, path *field.Path) field.ErrorList {
	errs := validateQualifiedName(name, path)
	if len(errs) == 0 && !strings.Contains(name, "/") && !isStandardNodeResourceName(name) {
		errs = append(errs, field.Invalid(path, name, "must be a standard resource type or fully qualified"))
	}
	return errs
}

// ValidateQuantity parses the quantity of resource resourceName and checks it is not negative (and whole
// for integer resources such as pods or extended resources).
func ValidateQuantity(resourceName, value string, path *field.Path) (resource.Quantity, field.ErrorList) {
	q, err := resource.ParseQuantity(value)
	if err != nil {
		msg := err.Error()
		if inner := errors.Unwrap(err); inner != nil {
			msg = inner.Error()
		}
		return q, field.ErrorList{field.Invalid(path, value, msg)}
	}
	if q.Sign() < 0 {
		return q, field.ErrorList{field.Invalid(path, value, isNegativeErrorMsg)}
	}
	if isIntegerResourceName(resourceName) && q.MilliValue()%1000 != 0 {
		return q, field.ErrorList{field.Invalid(path, value, isNotIntegerErrorMsg)}
	}
	return q, nil
}

// sortedMapKeys returns a map's keys in order, so that errors come out deterministically.
func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
