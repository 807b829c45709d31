package coxctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/defaults"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/manifest"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/coxctl/merge"
)

// LastAppliedAnnotation holds the configuration apply wrote last, for the next three-way merge.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// fileOptions are the -f/-R flags shared by apply, create and delete.
type fileOptions struct {
	filenames []string
	recursive bool
}

func (o *fileOptions) addFlags(cmd *cobra.Command, what string) {
	cmd.Flags().StringSliceVarP(&o.filenames, "filename", "f", nil, "file, directory or - (standard input) with the manifests "+what)
	cmd.Flags().BoolVarP(&o.recursive, "recursive", "R", false, "process the directories given with -f recursively")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
}

// manifestExts are the files a directory contributes.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// readManifests reads and decodes every manifest of the -f arguments. It reads everything first and
// returns every decoding error at once (a *manifest.DecodeError), so that nothing is written when any
// document is malformed.
func (o *fileOptions) readManifests(in io.Reader) ([]manifest.Document, error) {
	if len(o.filenames) == 0 {
		return nil, errors.New("must specify one of -f and -k")
	}
	var sources []string
	for _, name := range o.filenames {
		if name == "-" {
			sources = append(sources, name)
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return nil, fmt.Errorf("the path %q does not exist", name)
		}
		if !st.IsDir() {
			sources = append(sources, name)
			continue
		}
		var files []string
		err = filepath.WalkDir(name, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != name && !o.recursive {
					return filepath.SkipDir
				}
				return nil
			}
			if manifestExts[strings.ToLower(filepath.Ext(path))] {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read directory %s: %w", name, err)
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("error reading [%s]: recognized file extensions are [.json .yaml .yml]", name)
		}
		sources = append(sources, files...)
	}
	var docs []manifest.Document
	var errs []manifest.FieldError
	for _, src := range sources {
		var data []byte
		var err error
		if src == "-" {
			data, err = io.ReadAll(in)
		} else {
			data, err = os.ReadFile(src)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		d, err := manifest.Decode(data, src)
		var de *manifest.DecodeError
		if errors.As(err, &de) {
			errs = append(errs, de.Errors...)
		} else if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	if len(errs) > 0 {
		return nil, &manifest.DecodeError{Errors: errs}
	}
	if len(docs) == 0 {
		return nil, errors.New("no objects passed to apply")
	}
	return docs, nil
}

// prepare sets each document's namespace (from the manifest, else the context's) and checks it against
// an explicit -n, before anything is written.
func prepare(docs []manifest.Document, ns string, explicit bool) error {
	for _, d := range docs {
		m := api.Meta(d.Object)
		if m.GetName() == "" {
			return fmt.Errorf("%s: document %d: metadata.name: a name is required (generateName cannot be used here)", d.Source, d.Index)
		}
		if !d.Resource.Namespaced {
			continue
		}
		if m.Namespace == "" {
			m.Namespace = ns
		} else if explicit && m.Namespace != ns {
			return fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", m.Namespace, ns, m.Namespace)
		}
	}
	return nil
}

func newApplyCommand(f *factory) *cobra.Command {
	o := &fileOptions{}
	cmd := &cobra.Command{
		Use:   "apply -f FILENAME",
		Short: "Apply a configuration to objects by file name or standard input",
		Long: `Apply a configuration to objects by file name or standard input: objects that do not exist are created,
the others updated with a three-way merge of the last applied configuration (kept in the
kubectl.kubernetes.io/last-applied-configuration annotation), the new configuration and the live object.
Fields removed from the configuration are removed from the object; fields set by the cluster are kept.
Every document of every file is decoded and checked before anything is written.`,
		Example: `  coxctl apply -f deployment.yaml
  coxctl apply -f manifests/ -R
  coxctl get deploy web -o yaml | coxctl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApply(cmd.Context(), f, o)
		},
	}
	o.addFlags(cmd, "to apply")
	return cmd
}

func runApply(ctx context.Context, f *factory, o *fileOptions) error {
	docs, err := o.readManifests(f.streams.In)
	if err != nil {
		return err
	}
	ns, explicit, err := f.Namespace()
	if err != nil {
		return err
	}
	if err := prepare(docs, ns, explicit); err != nil {
		return err
	}
	c, err := f.Client(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range docs {
		result, err := applyOne(ctx, f, c, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(f.streams.Out, "%s/%s %s\n", typeName(d.Resource), d.Object.GetMetadata().GetName(), result)
	}
	return reportAll(f.streams.ErrOut, errs)
}

// lastApplied is the annotation value: the fields the user wrote, as JSON.
func lastApplied(d manifest.Document) (string, error) {
	b, err := json.Marshal(userConfig(d.Raw))
	if err != nil {
		return "", fmt.Errorf("%s: encode the applied configuration: %w", d.Source, err)
	}
	return string(b) + "\n", nil
}

// serverFields are metadata fields the apiserver owns: apply never writes them (a manifest saved with
// get -o yaml carries them, with a resourceVersion that soon goes stale).
var serverFields = []string{"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
	"deletionGracePeriodSeconds", "selfLink", "managedFields"}

// userConfig is the configuration apply writes and records: the manifest's fields without status, the
// server-owned metadata, and a last-applied annotation the manifest itself may carry (so that the
// annotation never nests).
func userConfig(raw map[string]any) map[string]any {
	out := shallowCopy(raw)
	delete(out, "status")
	md, ok := raw["metadata"].(map[string]any)
	if !ok {
		return out
	}
	md = shallowCopy(md)
	for _, f := range serverFields {
		delete(md, f)
	}
	if ann, ok := md["annotations"].(map[string]any); ok {
		if _, has := ann[LastAppliedAnnotation]; has {
			ann = shallowCopy(ann)
			delete(ann, LastAppliedAnnotation)
			if len(ann) == 0 {
				delete(md, "annotations")
			} else {
				md["annotations"] = ann
			}
		}
	}
	out["metadata"] = md
	return out
}

func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// applyOne creates or three-way-merges one object and says which: created, configured or unchanged.
func applyOne(ctx context.Context, f *factory, c *client.Client, d manifest.Document) (string, error) {
	res := dyn(c, d.Resource)
	m := d.Object.GetMetadata()
	ns := nsFor(d.Resource, m.GetNamespace())
	annotation, err := lastApplied(d)
	if err != nil {
		return "", err
	}
	wrap := func(verb string, err error) error {
		return &contextError{context: fmt.Sprintf("error when %s %q", verb, d.Source), err: err}
	}
	for attempt := 0; ; attempt++ {
		cctx, cancel := f.callCtx(ctx)
		live, err := res.Get(cctx, ns, m.GetName())
		cancel()
		if apierrors.IsNotFound(err) {
			obj := api.Clone(d.Object)
			om := api.Meta(obj)
			if om.Annotations == nil {
				om.Annotations = map[string]string{}
			}
			om.Annotations[LastAppliedAnnotation] = annotation
			cctx, cancel := f.callCtx(ctx)
			_, err := res.Create(cctx, obj)
			cancel()
			if apierrors.IsAlreadyExists(err) && attempt < 5 {
				continue // created meanwhile: merge into it
			}
			if err != nil {
				return "", wrap("creating", err)
			}
			return "created", nil
		}
		if err != nil {
			return "", wrap("retrieving current configuration of", err)
		}
		merged, err := mergedObject(d, live, annotation)
		if err != nil {
			return "", err
		}
		if sameAfterApply(merged, live) {
			return "unchanged", nil
		}
		cctx, cancel = f.callCtx(ctx)
		_, err = res.Update(cctx, merged)
		cancel()
		if apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		if err != nil {
			return "", wrap("applying patch to", err)
		}
		return "configured", nil
	}
}

// mergedObject is the three-way merge of the last applied configuration (from live's annotation), the
// document (plus its new annotation) and the live object, decoded back through the codec.
func mergedObject(d manifest.Document, live api.Object, annotation string) (api.Object, error) {
	var original map[string]any
	if s := live.GetMetadata().GetAnnotations()[LastAppliedAnnotation]; s != "" {
		if err := json.Unmarshal([]byte(s), &original); err != nil {
			original = nil // a corrupt annotation: merge as a first apply
		}
	}
	modified := deepCopyMap(userConfig(d.Raw))
	md, _ := modified["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		modified["metadata"] = md
	}
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		md["annotations"] = ann
	}
	ann[LastAppliedAnnotation] = annotation
	if original != nil {
		// The annotation itself is never removed by the merge.
		original = userConfig(original)
	}
	current := manifest.ToMap(live)
	out := merge.ThreeWay(original, modified, current)
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("%s: encode the merged %s: %w", d.Source, d.Resource.Kind, err)
	}
	docs, err := manifest.Decode(data, d.Source+" (merged with the live object)")
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s: the merged %s decoded to %d objects", d.Source, d.Resource.Kind, len(docs))
	}
	return docs[0].Object, nil
}

// sameAfterApply reports whether writing merged would leave live as it is: equal once both have the
// defaults the apiserver fills in (a Secret's stringData becomes data...). When live already has a
// last-applied configuration, an apply that changes no other field keeps it (so get -o yaml | apply -f -
// is "unchanged").
func sameAfterApply(merged, live api.Object) bool {
	m, l := api.Clone(merged), api.Clone(live)
	defaults.Apply(m)
	defaults.Apply(l)
	if old, ok := l.GetMetadata().GetAnnotations()[LastAppliedAnnotation]; ok {
		api.Meta(m).Annotations[LastAppliedAnnotation] = old
	}
	return proto.Equal(m, l)
}

func deepCopyMap(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func newCreateCommand(f *factory) *cobra.Command {
	o := &fileOptions{}
	cmd := &cobra.Command{
		Use:   "create -f FILENAME",
		Short: "Create objects from a file or standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			docs, err := o.readManifests(f.streams.In)
			if err != nil {
				return err
			}
			ns, explicit, err := f.Namespace()
			if err != nil {
				return err
			}
			if err := prepare(docs, ns, explicit); err != nil {
				return err
			}
			c, err := f.Client(ctx)
			if err != nil {
				return err
			}
			var errs []error
			for _, d := range docs {
				cctx, cancel := f.callCtx(ctx)
				_, err := dyn(c, d.Resource).Create(cctx, d.Object)
				cancel()
				if err != nil {
					errs = append(errs, &contextError{context: fmt.Sprintf("error when creating %q", d.Source), err: err})
					continue
				}
				fmt.Fprintf(f.streams.Out, "%s/%s created\n", typeName(d.Resource), d.Object.GetMetadata().GetName())
			}
			return reportAll(f.streams.ErrOut, errs)
		},
	}
	o.addFlags(cmd, "to create")
	return cmd
}
