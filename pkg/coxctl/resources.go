package coxctl

import (
	"context"
	"fmt"
	"strings"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/coxctl/printers"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// dyn is the untyped client of a resource.
func dyn(c *client.Client, r *api.Resource) *client.Resource[api.Object] {
	return client.For[api.Object](c, r)
}

// reader serves describe's and the commands' reads over a client.
type reader struct{ c *client.Client }

func (rd reader) List(ctx context.Context, r *api.Resource, opts *metav1.ListOptions) ([]api.Object, error) {
	items, _, err := dyn(rd.c, r).List(ctx, opts)
	return items, err
}

func (rd reader) Get(ctx context.Context, r *api.Resource, ns, name string) (api.Object, error) {
	if !r.Namespaced {
		ns = ""
	}
	return dyn(rd.c, r).Get(ctx, ns, name)
}

// resourceArg is one resource type of the command line with the names given for it.
type resourceArg struct {
	res   *api.Resource
	names []string
}

// allResources are what "get all" shows, in kubectl's order.
var allResources = []*api.Resource{api.Pods, api.Services, api.Deployments, api.ReplicaSets}

// parseResourceArgs reads kubectl's forms: "pods", "pods a b", "po,svc", "pod/a svc/b", "all".
func parseResourceArgs(args []string) ([]resourceArg, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("you must specify the type of resource to get. Use \"coxctl api-resources\" for a complete list of supported resources")
	}
	if strings.Contains(args[0], "/") {
		var out []resourceArg
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok || name == "" {
				return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'coxctl get resource/<resource_name>' instead of 'coxctl get resource resource/<resource_name>'")
			}
			r, err := api.Lookup(typ)
			if err != nil {
				return nil, err
			}
			out = append(out, resourceArg{res: r, names: []string{name}})
		}
		return out, nil
	}
	var out []resourceArg
	for _, typ := range strings.Split(args[0], ",") {
		if typ == "" {
			continue
		}
		if strings.ToLower(typ) == "all" {
			for _, r := range allResources {
				out = append(out, resourceArg{res: r})
			}
			continue
		}
		r, err := api.Lookup(typ)
		if err != nil {
			return nil, err
		}
		out = append(out, resourceArg{res: r})
	}
	for _, name := range args[1:] {
		if strings.Contains(name, "/") {
			return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'coxctl get resource/<resource_name>' instead of 'coxctl get resource resource/<resource_name>'")
		}
	}
	for i := range out {
		out[i].names = append([]string(nil), args[1:]...)
	}
	return out, nil
}

// parseTypeName reads "deploy/web", or "deploy web" from two arguments, for commands on one object.
func parseTypeName(args []string, defaultType *api.Resource) (*api.Resource, string, error) {
	switch {
	case len(args) == 1 && strings.Contains(args[0], "/"):
		typ, name, _ := strings.Cut(args[0], "/")
		r, err := api.Lookup(typ)
		if err != nil {
			return nil, "", err
		}
		if name == "" {
			return nil, "", fmt.Errorf("arguments in resource/name form must have a single resource and name")
		}
		return r, name, nil
	case len(args) == 1 && defaultType != nil:
		return defaultType, args[0], nil
	case len(args) == 2:
		r, err := api.Lookup(args[0])
		if err != nil {
			return nil, "", err
		}
		return r, args[1], nil
	}
	return nil, "", fmt.Errorf("expected TYPE NAME or TYPE/NAME")
}

// nsFor is the namespace to use for r: "" for cluster-scoped kinds.
func nsFor(r *api.Resource, ns string) string {
	if !r.Namespaced {
		return ""
	}
	return ns
}

// typeName is kubectl's "deployment.apps".
func typeName(r *api.Resource) string { return printers.TypeName(r) }

// notFound builds kubectl's not found error for r.
func notFound(r *api.Resource, name string) error {
	return apierrors.NotFound(r.GroupResource(), name)
}
