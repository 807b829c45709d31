package coxctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/manifest"
)

const editHeader = `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
`

// editor is the command that edits a file: $KUBE_EDITOR, $EDITOR, else vi.
func editor() string {
	for _, v := range []string{"KUBE_EDITOR", "EDITOR"} {
		if e := strings.TrimSpace(os.Getenv(v)); e != "" {
			return e
		}
	}
	return "vi"
}

func newEditCommand(f *factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "edit (TYPE NAME | TYPE/NAME)",
		Short: "Edit an object in your editor ($KUBE_EDITOR or $EDITOR)",
		Long: `Edit an object: its YAML (or JSON with -o json) opens in $KUBE_EDITOR, $EDITOR or vi; when the editor
exits the object is updated. If the edit does not decode or the apiserver rejects it, the file is reopened
with the errors at the top; saving it unchanged, or emptying it, cancels the edit.`,
		ValidArgsFunction: f.completeResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, name, err := parseTypeName(args, nil)
			if err != nil {
				return err
			}
			if output != "yaml" && output != "json" {
				return fmt.Errorf("the edit output format must be yaml or json, not %q", output)
			}
			ctx := cmd.Context()
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			c, err := f.Client(ctx)
			if err != nil {
				return err
			}
			res := dyn(c, r)
			obj, err := res.Get(ctx, nsFor(r, ns), name)
			if err != nil {
				return err
			}
			return runEdit(ctx, f, r, obj, output, func(edited api.Object) error {
				_, err := res.Update(ctx, edited)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "the format to edit in: yaml or json")
	return cmd
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			continue
		}
		out = append(out, l)
	}
	return bytes.Join(out, []byte("\n"))
}

func runEdit(ctx context.Context, f *factory, r *api.Resource, obj api.Object, format string, update func(api.Object) error) error {
	orig, err := manifest.Encode(obj, format)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "coxctl-edit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.%s", strings.ToLower(r.Kind), obj.GetMetadata().GetName(), format))
	content := append([]byte(editHeader), orig...)
	var lastFailed []byte
	name := obj.GetMetadata().GetName()
	for {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return err
		}
		ed := exec.CommandContext(ctx, "sh", "-c", editor()+` "$1"`, "coxctl-edit", path)
		ed.Stdin, ed.Stdout, ed.Stderr = f.streams.In, f.streams.Out, f.streams.ErrOut
		if err := ed.Run(); err != nil {
			return fmt.Errorf("there was a problem with the editor %q: %w", editor(), err)
		}
		edited, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		body := stripComments(edited)
		switch {
		case len(bytes.TrimSpace(body)) == 0:
			fmt.Fprintln(f.streams.ErrOut, "Edit cancelled, no changes made.")
			return nil
		case bytes.Equal(bytes.TrimSpace(body), bytes.TrimSpace(orig)):
			fmt.Fprintln(f.streams.ErrOut, "Edit cancelled, no changes made.")
			return nil
		case lastFailed != nil && bytes.Equal(bytes.TrimSpace(body), bytes.TrimSpace(lastFailed)):
			return errors.New("Edit cancelled, no valid changes were saved.")
		}
		var problems []string
		// The comments are YAML comments: decoding the file as saved keeps the line numbers the user sees.
		docs, err := manifest.Decode(edited, filepath.Base(path))
		var de *manifest.DecodeError
		switch {
		case errors.As(err, &de):
			for _, fe := range de.Errors {
				fe.Source, fe.Document = "", 0
				if fe.Path != "" {
					fe.Line = 0 // the field names the place; lines move as the file is reopened
				}
				problems = append(problems, fe.Error())
			}
		case err != nil:
			problems = append(problems, err.Error())
		case len(docs) != 1:
			problems = append(problems, fmt.Sprintf("the edited file must hold exactly one object, not %d", len(docs)))
		case docs[0].Resource != r || docs[0].Object.GetMetadata().GetName() != name:
			problems = append(problems, "At least one of apiVersion, kind and name was changed")
		default:
			uerr := update(docs[0].Object)
			if uerr == nil {
				fmt.Fprintf(f.streams.Out, "%s/%s edited\n", typeName(r), name)
				return nil
			}
			var se *apierrors.StatusError
			if !errors.As(uerr, &se) || se.Reason != apierrors.ReasonInvalid {
				return uerr
			}
			if len(se.Causes) > 0 {
				for _, c := range se.Causes {
					if c.Field != "" && !strings.HasPrefix(c.Message, c.Field+":") {
						problems = append(problems, c.Field+": "+c.Message)
					} else {
						problems = append(problems, c.Message)
					}
				}
			} else {
				problems = append(problems, se.Message)
			}
		}
		fmt.Fprintf(f.streams.ErrOut, "error: %s %q was not valid:\n", r.GroupResource(), name)
		var hdr strings.Builder
		fmt.Fprintf(&hdr, "# %s %q was not valid:\n", r.GroupResource(), name)
		for _, p := range problems {
			fmt.Fprintf(f.streams.ErrOut, "* %s\n", p)
			for _, l := range strings.Split(p, "\n") {
				fmt.Fprintf(&hdr, "# * %s\n", l)
			}
		}
		hdr.WriteString("#\n")
		lastFailed = body
		content = append([]byte(editHeader+hdr.String()), bytes.TrimLeft(body, "\n")...)
	}
}
