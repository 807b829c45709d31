package validation

import (
	"fmt"
	"sort"
	"strings"

	"github.com/coxswain/coxswain/pkg/api/validation/field"
)

// TotalAnnotationSizeLimitB is the maximum total size in bytes of the keys
// and values of an object's annotations.
const TotalAnnotationSizeLimitB = 256 * (1 << 10) // 256 KiB

// ValidateLabelName checks one label key at path.
func ValidateLabelName(name string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range IsQualifiedName(name) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	return errs
}

// ValidateLabels checks the keys (qualified names) and values of labels at
// path. Errors about a key name path; errors about a value name
// path[key]. Keys are checked in sorted order so the result is deterministic.
func ValidateLabels(labels map[string]string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(labels) {
		v := labels[k]
		errs = append(errs, ValidateLabelName(k, path)...)
		for _, msg := range IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(path.Key(k), v, msg))
		}
	}
	return errs
}

// ValidateAnnotations checks the keys of annotations at path (qualified names,
// case-insensitively) and that keys and values add up to at most
// TotalAnnotationSizeLimitB bytes.
func ValidateAnnotations(annotations map[string]string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(annotations) {
		for _, msg := range IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, field.Invalid(path, k, msg))
		}
	}
	if err := ValidateAnnotationsSize(annotations); err != nil {
		errs = append(errs, field.TooLong(path, field.OmitValue, TotalAnnotationSizeLimitB))
	}
	return errs
}

// ValidateAnnotationsSize returns an error if the keys and values of
// annotations add up to more than TotalAnnotationSizeLimitB bytes.
func ValidateAnnotationsSize(annotations map[string]string) error {
	var total int64
	for k, v := range annotations {
		total += int64(len(k)) + int64(len(v))
	}
	if total > TotalAnnotationSizeLimitB {
		return fmt.Errorf("annotations size %d is larger than limit %d", total, TotalAnnotationSizeLimitB)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
