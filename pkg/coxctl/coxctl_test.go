package coxctl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/manifest"
)

func TestPrintError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		want string
	}{
		{apierrors.NotFound("pods", "x"), 1, "Error from server (NotFound): pods \"x\" not found\n"},
		{apierrors.Invalid("Deployment.apps", "x", []apierrors.Cause{{Field: "spec.replicas", Message: "Invalid value: -1: must be greater than or equal to 0"}}), 1,
			"The Deployment \"x\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0\n"},
		{&contextError{context: `error when creating "a.yaml"`, err: apierrors.AlreadyExists("configmaps", "a")}, 1,
			"Error from server (AlreadyExists): error when creating \"a.yaml\": configmaps \"a\" already exists\n"},
		{fmt.Errorf("wrapped: %w", apierrors.Conflict("pods", "p", apierrors.StaleResourceVersion)), 1,
			"Error from server (Conflict): Operation cannot be fulfilled on pods \"p\": the object has been modified; please apply your changes to the latest version and try again\n"},
		{errors.New("the server doesn't have a resource type \"foo\""), 1, "error: the server doesn't have a resource type \"foo\"\n"},
		{&unreachableError{addr: "127.0.0.1:6443", reason: "connection refused"}, 1,
			"Error: cannot reach the apiserver at 127.0.0.1:6443 (connection refused); start a cluster with 'make run' or pass --server\n"},
		{&manifest.DecodeError{Errors: []manifest.FieldError{{Source: "a.yaml", Document: 1, Line: 3, Path: "spec", Message: "bad"},
			{Source: "b.yaml", Document: 2, Line: 9, Path: "kind", Message: "worse"}}}, 1,
			"error: a.yaml: document 1: line 3: spec: bad\nerror: b.yaml: document 2: line 9: kind: worse\n"},
		{exitError{code: 7}, 7, ""},
	} {
		var buf bytes.Buffer
		if code := printError(&buf, tc.err); code != tc.code || buf.String() != tc.want {
			t.Errorf("printError(%v) = %d %q, want %d %q", tc.err, code, buf.String(), tc.code, tc.want)
		}
	}
}

func TestParseResourceArgs(t *testing.T) {
	show := func(ras []resourceArg) string {
		var parts []string
		for _, ra := range ras {
			parts = append(parts, ra.res.Plural+"="+strings.Join(ra.names, "+"))
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		args []string
		want string
		err  string
	}{
		{[]string{"po"}, "pods=", ""},
		{[]string{"deploy", "a", "b"}, "deployments=a+b", ""},
		{[]string{"po,svc"}, "pods= services=", ""},
		{[]string{"pod/a", "svc/b"}, "pods=a services=b", ""},
		{[]string{"all"}, "pods= services= deployments= replicasets=", ""},
		{[]string{"deployments.apps", "x"}, "deployments=x", ""},
		{[]string{"foo"}, "", `the server doesn't have a resource type "foo"`},
		{[]string{"pods", "pod/a"}, "", "there is no need to specify a resource type"},
		{nil, "", "you must specify the type of resource"},
	} {
		got, err := parseResourceArgs(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err = %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || show(got) != tc.want {
			t.Errorf("%v: got %q, %v; want %q", tc.args, show(got), err, tc.want)
		}
	}
	r, name, err := parseTypeName([]string{"web"}, api.Deployments)
	if err != nil || r != api.Deployments || name != "web" {
		t.Errorf("parseTypeName(web) = %v %q %v", r, name, err)
	}
}

func TestApplyKeyChanges(t *testing.T) {
	m := map[string]string{"a": "1"}
	set, remove, err := parseKeyChanges([]string{"b=2", "a-"}, true)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := applyKeyChanges(&m, set, remove, false)
	if err != nil || !changed || len(m) != 1 || m["b"] != "2" {
		t.Errorf("got %v %v %v", m, changed, err)
	}
	if _, _, err := parseKeyChanges([]string{"a=1", "a-"}, true); err == nil {
		t.Error("modifying and removing a key at once was accepted")
	}
	if _, _, err := parseKeyChanges([]string{"a=not valid!"}, true); err == nil {
		t.Error("an invalid label value was accepted")
	}
	if _, _, err := parseKeyChanges([]string{"note=any text, even this!"}, false); err != nil {
		t.Errorf("annotation values are free: %v", err)
	}
}
