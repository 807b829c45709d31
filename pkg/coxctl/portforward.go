package coxctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/coxctl/podstream"
	"github.com/coxswain/coxswain/pkg/coxctl/printers"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func newPortForwardCommand(f *factory) *cobra.Command {
	var addresses []string
	cmd := &cobra.Command{
		Use:   "port-forward (POD | TYPE/NAME) [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
		Short: "Forward one or more local ports to a pod",
		Long: `Forward one or more local ports to a pod. For svc/NAME the service port is resolved to its targetPort
on a ready pod of the service; for deploy/NAME or rs/NAME a ready pod is chosen. Remote ports may be
names of container ports.`,
		Example: `  coxctl port-forward pod/web 8080:80
  coxctl port-forward svc/my-service 8080:80
  coxctl port-forward deploy/web :8080 --address 0.0.0.0`,
		ValidArgsFunction: f.completeFirstName(api.Pods),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New("TYPE/NAME and a list of ports are required for port-forward")
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
			pod, ports, err := resolveForward(ctx, c, ns, args[0], args[1:])
			if err != nil {
				return err
			}
			fw, err := podstream.NewForwarder(podstream.ForwarderConfig{Client: c.PodStreams(), Namespace: pod.GetMetadata().GetNamespace(),
				Pod: pod.GetMetadata().GetName(), Ports: ports, Addresses: addresses, Out: f.streams.Out, ErrOut: f.streams.ErrOut})
			if err != nil {
				return err
			}
			return fw.Run(ctx)
		},
	}
	cmd.Flags().StringSliceVar(&addresses, "address", []string{"localhost"}, "addresses to listen on (comma separated); localhost is 127.0.0.1")
	return cmd
}

// resolveForward finds the pod to forward to and turns the port arguments into pod ports: a service's
// ports map to their targetPorts, named ports to the container port of that name.
func resolveForward(ctx context.Context, c *client.Client, ns, target string, portArgs []string) (*corev1.Pod, []podstream.PortPair, error) {
	r, name, err := parseTypeName([]string{target}, api.Pods)
	if err != nil {
		return nil, nil, err
	}
	var svc *corev1.Service
	var pod *corev1.Pod
	switch r {
	case api.Services:
		if svc, err = c.Services().Get(ctx, ns, name); err != nil {
			return nil, nil, err
		}
		if len(svc.GetSpec().GetSelector()) == 0 {
			return nil, nil, fmt.Errorf("invalid service %q: service must have a selector", name)
		}
		pods, _, err := c.Pods().List(ctx, &metav1.ListOptions{Namespace: ns, LabelSelector: printers.FormatLabels(svc.GetSpec().GetSelector())})
		if err != nil {
			return nil, nil, err
		}
		for _, p := range pods {
			if podReady(p) {
				pod = p
				break
			}
		}
		if pod == nil {
			return nil, nil, fmt.Errorf("no ready pod found for service %s/%s", ns, name)
		}
	default:
		pods, err := podsFor(ctx, c, ns, []string{target}, "")
		if err != nil {
			return nil, nil, err
		}
		pod = pods[0]
	}
	if ph := pod.GetStatus().GetPhase(); ph != "Running" {
		return nil, nil, fmt.Errorf("unable to forward port because pod is not running. Current status=%s", ph)
	}
	var pairs []podstream.PortPair
	for _, a := range portArgs {
		local, remote, found := strings.Cut(a, ":")
		if !found {
			remote = local
		}
		port, err := podPort(pod, svc, remote)
		if err != nil {
			return nil, nil, err
		}
		pair := podstream.PortPair{Remote: port}
		switch n, err := strconv.Atoi(local); {
		case local == "":
			pair.Local = 0 // ":80": any free local port
		case err == nil && n >= 0 && n <= 65535:
			pair.Local = n
		case !found:
			pair.Local = port // a named port alone listens on the pod port's number
		default:
			return nil, nil, fmt.Errorf("invalid port %q: the local port must be a number between 0 and 65535", a)
		}
		pairs = append(pairs, pair)
	}
	return pod, pairs, nil
}

// podPort resolves a remote port argument: through the service (port number or name to targetPort),
// then a container port name to its number.
func podPort(pod *corev1.Pod, svc *corev1.Service, remote string) (int, error) {
	target := remote
	if svc != nil {
		found := false
		for _, sp := range svc.GetSpec().GetPorts() {
			if strconv.Itoa(int(sp.GetPort())) == remote || sp.GetName() == remote && remote != "" {
				found = true
				switch tp := sp.GetTargetPort().GetValue().(type) {
				case *metav1.IntOrString_IntVal:
					target = strconv.Itoa(int(tp.IntVal))
				case *metav1.IntOrString_StrVal:
					target = tp.StrVal
				default:
					target = strconv.Itoa(int(sp.GetPort()))
				}
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("service %s does not have a service port %s", svc.GetMetadata().GetName(), remote)
		}
	}
	if n, err := strconv.Atoi(target); err == nil {
		if n <= 0 || n > 65535 {
			return 0, fmt.Errorf("invalid port %q", remote)
		}
		return n, nil
	}
	for _, ct := range pod.GetSpec().GetContainers() {
		for _, p := range ct.GetPorts() {
			if p.GetName() == target {
				return int(p.GetContainerPort()), nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s does not have a named port %q", pod.GetMetadata().GetName(), target)
}
