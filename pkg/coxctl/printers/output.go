package printers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/manifest"
)

// WriteObjects prints objects in format "yaml", "json" or "name". One object (asList false) is printed as
// itself; otherwise the objects are wrapped in a kind: List document, as kubectl get does, which
// coxctl apply -f reads back.
func WriteObjects(w io.Writer, objs []api.Object, format string, asList bool) error {
	switch format {
	case "name":
		for _, o := range objs {
			r, err := api.ForObject(o)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, Name(r, o))
		}
		return nil
	case "yaml", "json":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", format)
	}
	if !asList && len(objs) == 1 {
		out, err := manifest.Encode(objs[0], format)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
	if format == "json" {
		items := make([]json.RawMessage, len(objs))
		for i, o := range objs {
			out, err := manifest.Encode(o, "json")
			if err != nil {
				return err
			}
			items[i] = json.RawMessage(bytes.TrimSpace(out))
		}
		list := struct {
			APIVersion string            `json:"apiVersion"`
			Items      []json.RawMessage `json:"items"`
			Kind       string            `json:"kind"`
			Metadata   map[string]string `json:"metadata"`
		}{"v1", items, "List", map[string]string{"resourceVersion": ""}}
		if list.Items == nil {
			list.Items = []json.RawMessage{}
		}
		out, err := json.MarshalIndent(list, "", "    ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(out, '\n'))
		return err
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, o := range objs {
		out, err := manifest.Encode(o, "yaml")
		if err != nil {
			return err
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(out, &doc); err != nil {
			return fmt.Errorf("re-read the YAML of %s: %w", o.GetMetadata().GetName(), err)
		}
		seq.Content = append(seq.Content, doc.Content[0])
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	md := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{str("resourceVersion"), {Kind: yaml.ScalarNode, Tag: "!!str", Value: "", Style: yaml.DoubleQuotedStyle}}}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		str("apiVersion"), str("v1"), str("items"), seq, str("kind"), str("List"), str("metadata"), md}}
	if len(seq.Content) == 0 {
		seq.Style = yaml.FlowStyle
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return err
	}
	return enc.Close()
}
