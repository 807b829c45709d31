package coxctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/coxctl/podstream"
	"github.com/coxswain/coxswain/pkg/coxctl/printers"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// DefaultContainerAnnotation names the container logs and exec use when none is given.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

type logsOptions struct {
	follow        bool
	tail          int64
	since         time.Duration
	container     string
	allContainers bool
	previous      bool
	selector      string
	timestamps    bool
	prefix        bool
	limitBytes    int64
}

func newLogsCommand(f *factory) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [-f] (POD | TYPE/NAME | -l selector) [-c CONTAINER]",
		Short: "Print the logs of a container in a pod",
		Example: `  coxctl logs web-5d59d67564-x2x9k
  coxctl logs -f deploy/web --tail=10
  coxctl logs -l app=web --prefix
  coxctl logs web -c sidecar --previous`,
		ValidArgsFunction: f.completeFirstName(api.Pods),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.follow, "follow", "f", false, "stream the log as it grows")
	fl.Int64Var(&o.tail, "tail", -1, "lines of recent log to print (-1: all; 10 with a selector)")
	fl.DurationVar(&o.since, "since", 0, "only logs newer than this duration, e.g. 5s, 2m, 3h")
	fl.StringVarP(&o.container, "container", "c", "", "the container to print the log of")
	fl.BoolVar(&o.allContainers, "all-containers", false, "print the logs of every container")
	fl.BoolVarP(&o.previous, "previous", "p", false, "the log of the previous (terminated) instance of the container")
	fl.StringVarP(&o.selector, "selector", "l", "", "print the logs of the pods matching this label selector")
	fl.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its RFC 3339 timestamp")
	fl.BoolVar(&o.prefix, "prefix", false, "prefix each line with its source (pod/NAME/CONTAINER)")
	fl.Int64Var(&o.limitBytes, "limit-bytes", 0, "maximum bytes of log to print (0: no limit)")
	return cmd
}

// podsFor resolves logs' and exec's target: a pod name, TYPE/NAME (a deployment or replicaset: one of
// its pods), or a label selector (every matching pod).
func podsFor(ctx context.Context, c *client.Client, ns string, args []string, selector string) ([]*corev1.Pod, error) {
	if selector != "" {
		if len(args) > 0 {
			return nil, errors.New("only one of a selector or a pod name may be given")
		}
		pods, _, err := c.Pods().List(ctx, &metav1.ListOptions{Namespace: ns, LabelSelector: selector})
		if err != nil {
			return nil, err
		}
		objs := make([]api.Object, len(pods))
		for i, p := range pods {
			objs[i] = p
		}
		printers.SortObjects(objs)
		for i, o := range objs {
			pods[i] = o.(*corev1.Pod)
		}
		return pods, nil
	}
	if len(args) == 0 {
		return nil, errors.New("a pod name, TYPE/NAME or a selector (-l) is required")
	}
	r, name, err := parseTypeName(args[:1], api.Pods)
	if err != nil {
		return nil, err
	}
	var sel *metav1.LabelSelector
	switch r {
	case api.Pods:
		p, err := c.Pods().Get(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		return []*corev1.Pod{p}, nil
	case api.Deployments:
		d, err := c.Deployments().Get(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		sel = d.GetSpec().GetSelector()
	case api.ReplicaSets:
		rs, err := c.ReplicaSets().Get(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		sel = rs.GetSpec().GetSelector()
	case api.Services:
		svc, err := c.Services().Get(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		if len(svc.GetSpec().GetSelector()) == 0 {
			return nil, fmt.Errorf("service %q has no selector", name)
		}
		sel = &metav1.LabelSelector{MatchLabels: svc.GetSpec().GetSelector()}
	default:
		return nil, fmt.Errorf("cannot attach to %s: only pods, deployments, replicasets and services select pods", typeName(r))
	}
	s := printers.FormatSelector(sel)
	if s == "<none>" || s == "<error>" {
		return nil, fmt.Errorf("%s %q has no usable selector", typeName(r), name)
	}
	pods, _, err := c.Pods().List(ctx, &metav1.ListOptions{Namespace: ns, LabelSelector: s})
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no pods found for %s/%s", typeName(r), name)
	}
	// Prefer a running, ready pod, like kubectl's attachable pod selection.
	best := pods[0]
	for _, p := range pods {
		if podReady(p) {
			best = p
			break
		}
	}
	return []*corev1.Pod{best}, nil
}

func podReady(p *corev1.Pod) bool {
	if p.GetStatus().GetPhase() != "Running" || p.GetMetadata().GetDeletionTimestamp() != nil {
		return false
	}
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

// containerFor picks the container: the one named, else the default-container annotation's, else the
// only or first one (saying so on w when there are several).
func containerFor(p *corev1.Pod, name string, w io.Writer) (string, error) {
	cs := p.GetSpec().GetContainers()
	if name != "" {
		for _, c := range append(append([]*corev1.Container(nil), cs...), p.GetSpec().GetInitContainers()...) {
			if c.GetName() == name {
				return name, nil
			}
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.GetName())
		}
		return "", fmt.Errorf("container %s is not valid for pod %s: choose one of: %v", name, p.GetMetadata().GetName(), names)
	}
	if len(cs) == 0 {
		return "", fmt.Errorf("pod %s has no containers", p.GetMetadata().GetName())
	}
	if d := p.GetMetadata().GetAnnotations()[DefaultContainerAnnotation]; d != "" {
		for _, c := range cs {
			if c.GetName() == d {
				return d, nil
			}
		}
	}
	if len(cs) > 1 && w != nil {
		var names []string
		for _, c := range cs {
			names = append(names, c.GetName())
		}
		fmt.Fprintf(w, "Defaulted container %q out of: %s\n", cs[0].GetName(), joinComma(names))
	}
	return cs[0].GetName(), nil
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// prefixWriter prefixes each line written through it; writes of whole lines are atomic across writers.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := indexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.mu.Lock()
		_, err := fmt.Fprintf(p.w, "%s%s", p.prefix, p.buf[:i+1])
		p.mu.Unlock()
		if err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (o *logsOptions) run(ctx context.Context, f *factory, args []string) error {
	if len(args) > 1 && o.container == "" && o.selector == "" {
		o.container = args[1] // kubectl logs POD CONTAINER
		args = args[:1]
	}
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	c, err := f.Client(ctx)
	if err != nil {
		return err
	}
	pods, err := podsFor(ctx, c, ns, args, o.selector)
	if err != nil {
		return err
	}
	if o.selector != "" && len(pods) == 0 {
		fmt.Fprintf(f.streams.ErrOut, "No resources found in %s namespace.\n", ns)
		return nil
	}
	type source struct {
		pod       *corev1.Pod
		container string
	}
	var sources []source
	for _, p := range pods {
		if o.allContainers {
			for _, ct := range p.GetSpec().GetContainers() {
				sources = append(sources, source{p, ct.GetName()})
			}
			continue
		}
		var note io.Writer = f.streams.ErrOut
		if len(pods) > 1 {
			note = nil
		}
		name, err := containerFor(p, o.container, note)
		if err != nil {
			return err
		}
		sources = append(sources, source{p, name})
	}
	tail := o.tail
	if tail < 0 && o.selector != "" {
		tail = 10
	}
	streams := c.PodStreams()
	var mu sync.Mutex
	run := func(s source) error {
		opts := &corev1.PodLogOptions{Namespace: s.pod.GetMetadata().GetNamespace(), Name: s.pod.GetMetadata().GetName(),
			Container: s.container, Follow: o.follow, Previous: o.previous, Timestamps: o.timestamps}
		if tail >= 0 {
			opts.TailLines = proto.Int64(tail)
		}
		if o.since > 0 {
			opts.SinceSeconds = proto.Int64(int64((o.since + time.Second - 1) / time.Second))
		}
		if o.limitBytes > 0 {
			opts.LimitBytes = proto.Int64(o.limitBytes)
		}
		var w io.Writer = f.streams.Out
		if o.prefix || len(sources) > 1 && o.follow {
			pw := &prefixWriter{mu: &mu, w: f.streams.Out}
			if o.prefix {
				pw.prefix = fmt.Sprintf("[pod/%s/%s] ", opts.Name, opts.Container)
			}
			w = pw
		}
		return podstream.Logs(ctx, streams, opts, w)
	}
	if !o.follow || len(sources) == 1 {
		for _, s := range sources {
			if err := run(s); err != nil {
				return err
			}
		}
		return nil
	}
	// Following several containers: stream them all at once.
	errc := make(chan error, len(sources))
	for _, s := range sources {
		go func() { errc <- run(s) }()
	}
	var first error
	for range sources {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}
