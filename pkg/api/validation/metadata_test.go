package validation

import (
	"strings"
	"testing"

	"github.com/coxswain/coxswain/pkg/api/validation/field"
)

func TestValidateLabels(t *testing.T) {
	path := field.NewPath("metadata", "labels")
	tests := []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"nil", nil, nil},
		{"valid", map[string]string{"app": "web", "example.com/tier": "front_end", "empty": ""}, nil},
		{"bad key", map[string]string{"bad key": "v"}, []string{`metadata.labels: Invalid value: "bad key": ` + qnameMsg}},
		{"bad value", map[string]string{"app": "-web"}, []string{`metadata.labels[app]: Invalid value: "-web": ` + lvalueMsg}},
		{"sorted", map[string]string{"b": "-", "a": "-"}, []string{
			`metadata.labels[a]: Invalid value: "-": ` + lvalueMsg,
			`metadata.labels[b]: Invalid value: "-": ` + lvalueMsg,
		}},
		{"long value", map[string]string{"k": strings.Repeat("v", 64)}, []string{
			`metadata.labels[k]: Invalid value: "` + strings.Repeat("v", 64) + `": must be no more than 63 characters`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateLabels(tt.labels, path)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestValidateAnnotations(t *testing.T) {
	path := field.NewPath("metadata", "annotations")
	tests := []struct {
		name        string
		annotations map[string]string
		want        []string
	}{
		{"nil", nil, nil},
		{"valid", map[string]string{"example.com/x": "any value at all: {\"json\": true}", "a": ""}, nil},
		{"uppercase prefix allowed", map[string]string{"Example.COM/Name": "v"}, nil},
		{"bad key", map[string]string{"a/b/c": "v"}, []string{`metadata.annotations: Invalid value: "a/b/c": a qualified name ` +
			strings.TrimPrefix(qnameMsg, "name part ") + ` with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`}},
		{"at limit", map[string]string{"k": strings.Repeat("v", TotalAnnotationSizeLimitB-1)}, nil},
		{"over limit", map[string]string{"k": strings.Repeat("v", TotalAnnotationSizeLimitB)}, []string{
			"metadata.annotations: Too long: may not be more than 262144 bytes",
		}},
		{"over limit in total", map[string]string{
			"a": strings.Repeat("v", TotalAnnotationSizeLimitB/2),
			"b": strings.Repeat("v", TotalAnnotationSizeLimitB/2),
		}, []string{"metadata.annotations: Too long: may not be more than 262144 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateAnnotations(tt.annotations, path)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
	err := ValidateAnnotationsSize(map[string]string{"k": strings.Repeat("v", TotalAnnotationSizeLimitB)})
	if err == nil || err.Error() != "annotations size 262145 is larger than limit 262144" {
		t.Errorf("ValidateAnnotationsSize: %v", err)
	}
}

func FuzzValidateLabels(f *testing.F) {
	f.Add("app", "web")
	f.Add("example.com/app", "")
	f.Add("/", "-")
	f.Fuzz(func(t *testing.T, k, v string) {
		errs := ValidateLabels(map[string]string{k: v}, field.NewPath("l"))
		want := len(IsQualifiedName(k)) + len(IsValidLabelValue(v))
		if len(errs) != want {
			t.Fatalf("ValidateLabels(%q: %q) = %d errors, want %d", k, v, len(errs), want)
		}
		for _, e := range errs {
			if e.Type != field.ErrorTypeInvalid || !strings.HasPrefix(e.Field, "l") {
				t.Fatalf("unexpected error %v", e)
			}
		}
	})
}
