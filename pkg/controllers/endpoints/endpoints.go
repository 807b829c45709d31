package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controller"
	"github.com/coxswain/coxswain/pkg/labels"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Name is the controller's name in metrics, logs and the manager's --controllers flag.
const Name = "endpoints"

// HeadlessLabel marks the Endpoints of a headless service (clusterIP None), as in Kubernetes.
const HeadlessLabel = "service.kubernetes.io/headless"

// Config configures the controller.
type Config struct {
	Client   *client.Client
	Factory  *informer.Factory
	Recorder record.Recorder
	// Registerer receives the controller's metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Workers is the number of services synced in parallel (default 5).
	Workers int
}

// Controller maintains Endpoints objects.
type Controller struct {
	endpoints *client.Resource[*corev1.Endpoints]
	services  *informer.Informer[*corev1.Service]
	pods      *informer.Informer[*corev1.Pod]
	epCache   *informer.Informer[*corev1.Endpoints]
	factory   *informer.Factory
	recorder  record.Recorder
	log       *slog.Logger
	ctrl      *controller.Controller
	m         *metrics
}

// New builds the controller and registers its informer handlers; call it before the factory starts.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Factory == nil || cfg.Recorder == nil {
		return nil, errors.New("endpoints: Config.Client, Config.Factory and Config.Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		endpoints: cfg.Client.Endpoints(),
		services:  cfg.Factory.Services(),
		pods:      cfg.Factory.Pods(),
		epCache:   cfg.Factory.Endpoints(),
		factory:   cfg.Factory,
		recorder:  cfg.Recorder,
		log:       cfg.Logger.With("controller", Name),
		m:         m,
	}
	c.ctrl, err = controller.New(controller.Config{Name: Name, Workers: cfg.Workers, Sync: c.sync,
		Registerer: cfg.Registerer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	c.services.AddHandler(informer.Handler[*corev1.Service]{
		OnAdd:    func(s *corev1.Service) { c.ctrl.EnqueueObject(s) },
		OnUpdate: func(_, s *corev1.Service) { c.ctrl.EnqueueObject(s) },
		OnDelete: func(s *corev1.Service) { c.ctrl.EnqueueObject(s) },
	})
	c.pods.AddHandler(informer.Handler[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) { c.enqueueServicesOf(p, nil) },
		OnUpdate: func(old, cur *corev1.Pod) {
			if old.GetMetadata().GetResourceVersion() != cur.GetMetadata().GetResourceVersion() {
				c.enqueueServicesOf(cur, old)
			}
		},
		OnDelete: func(p *corev1.Pod) { c.enqueueServicesOf(p, nil) },
	})
	// Like Kubernetes, an Endpoints object deleted behind our back is recreated.
	c.epCache.AddHandler(informer.Handler[*corev1.Endpoints]{
		OnDelete: func(e *corev1.Endpoints) { c.ctrl.EnqueueObject(e) },
	})
	return c, nil
}

// enqueueServicesOf enqueues the services whose selector matches pod (or its previous labels).
func (c *Controller) enqueueServicesOf(pod, old *corev1.Pod) {
	ns := pod.GetMetadata().GetNamespace()
	for _, svc := range c.services.ListSelector(ns, labels.Everything()) {
		sel := svc.GetSpec().GetSelector()
		if len(sel) == 0 {
			continue
		}
		s := labels.SelectorFromSet(sel)
		if s.Matches(pod.GetMetadata().GetLabels()) || (old != nil && s.Matches(old.GetMetadata().GetLabels())) {
			c.ctrl.EnqueueObject(svc)
		}
	}
}

// Run waits for the caches, enqueues leftover Endpoints (whose Service is gone) and syncs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !c.factory.WaitForSync(ctx) {
		return ctx.Err()
	}
	for _, ep := range c.epCache.List() {
		if _, ok := c.services.GetByKey(api.Key(ep)); !ok {
			c.ctrl.EnqueueObject(ep)
		}
	}
	c.log.Info("controller started")
	return c.ctrl.Run(ctx)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := api.SplitKey(key)
	svc, ok := c.services.Get(ns, name)
	if !ok {
		return c.deleteEndpoints(ctx, ns, name)
	}
	if len(svc.GetSpec().GetSelector()) == 0 || svc.GetSpec().GetType() == "ExternalName" {
		return nil // user-managed Endpoints
	}
	pods := c.pods.ListSelector(ns, labels.SelectorFromSet(svc.GetSpec().GetSelector()))
	subsets := Subsets(svc, pods)
	want := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: endpointsLabels(svc)}, Subsets: subsets}

	cur, exists := c.epCache.Get(ns, name)
	if !exists {
		if _, err := c.endpoints.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("endpoints %s: created concurrently, cache not caught up yet: %w", key, err)
			}
			c.recorder.Eventf(svc, record.Warning, "FailedToCreateEndpoint", "Failed to create endpoint for service %s: %v", key, err)
			return fmt.Errorf("create endpoints %s: %w", key, err)
		}
		c.m.writes.WithLabelValues("create").Inc()
		c.log.Debug("endpoints created", "service", key, "subsets", len(subsets))
		return nil
	}
	if Equal(cur.GetSubsets(), subsets) && maps.Equal(cur.GetMetadata().GetLabels(), want.Metadata.Labels) {
		c.m.writes.WithLabelValues("unchanged").Inc()
		return nil
	}
	next := api.Clone(cur)
	next.Subsets = subsets
	next.Metadata.Labels = want.Metadata.Labels
	if _, err := c.endpoints.Update(ctx, next); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return fmt.Errorf("update endpoints %s: cache is stale: %w", key, err)
		}
		c.recorder.Eventf(svc, record.Warning, "FailedToUpdateEndpoint", "Failed to update endpoint %s: %v", key, err)
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	c.m.writes.WithLabelValues("update").Inc()
	c.log.Debug("endpoints updated", "service", key, "subsets", len(subsets))
	return nil
}

func (c *Controller) deleteEndpoints(ctx context.Context, ns, name string) error {
	ep, ok := c.epCache.Get(ns, name)
	if !ok {
		return nil
	}
	uid := ep.GetMetadata().GetUid()
	_, err := c.endpoints.Delete(ctx, &metav1.DeleteRequest{Namespace: ns, Name: name, Preconditions: &metav1.Preconditions{Uid: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		if apierrors.IsConflict(err) {
			return nil // a newer Endpoints object: its own events will bring it here
		}
		return fmt.Errorf("delete endpoints %s/%s: %w", ns, name, err)
	}
	c.m.writes.WithLabelValues("delete").Inc()
	c.log.Debug("endpoints deleted", "service", api.KeyOf(ns, name))
	return nil
}

func endpointsLabels(svc *corev1.Service) map[string]string {
	l := maps.Clone(svc.GetMetadata().GetLabels())
	if svc.GetSpec().GetClusterIp() == "None" {
		if l == nil {
			l = map[string]string{}
		}
		l[HeadlessLabel] = ""
	}
	return l
}

func isPodReady(pod *corev1.Pod) bool {
	for _, c := range pod.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

// includePod is Kubernetes' ShouldPodBeInEndpoints: pods with an IP that are neither terminal nor, unless
// includeTerminating, being deleted.
func includePod(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.GetStatus().GetPodIp() == "" {
		return false
	}
	if p := pod.GetStatus().GetPhase(); p == "Succeeded" || p == "Failed" {
		return false
	}
	if !includeTerminating && pod.GetMetadata().GetDeletionTimestamp() != nil {
		return false
	}
	return true
}

func protocol(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}

// FindPort resolves a service port's targetPort in pod: a number as is (unset or 0: the service port), a
// name through the pod's container ports with the same protocol. ok is false when the pod lacks the port.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (port int32, ok bool) {
	tp := sp.GetTargetPort()
	if name := tp.GetStrVal(); name != "" {
		for _, c := range pod.GetSpec().GetContainers() {
			for _, cp := range c.GetPorts() {
				if cp.GetName() == name && protocol(cp.GetProtocol()) == protocol(sp.GetProtocol()) {
					return cp.GetContainerPort(), true
				}
			}
		}
		return 0, false
	}
	if n := tp.GetIntVal(); n != 0 {
		return n, true
	}
	return sp.GetPort(), true
}

type addrEntry struct {
	addr  *corev1.EndpointAddress
	ready bool
	ports []*corev1.EndpointPort
}

// Subsets computes the Endpoints subsets of svc from pods (the pods its selector matches), grouped by
// identical port sets and sorted.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []*corev1.EndpointSubset {
	publishNotReady := svc.GetSpec().GetPublishNotReadyAddresses()
	headless := svc.GetSpec().GetClusterIp() == "None"
	var entries []addrEntry
	for _, pod := range pods {
		if !includePod(pod, publishNotReady) {
			continue
		}
		e := addrEntry{addr: podAddress(svc, pod), ready: publishNotReady || isPodReady(pod)}
		for _, sp := range svc.GetSpec().GetPorts() {
			n, ok := FindPort(pod, sp)
			if !ok {
				continue
			}
			e.ports = append(e.ports, &corev1.EndpointPort{Name: sp.GetName(), Port: n, Protocol: protocol(sp.GetProtocol()), AppProtocol: sp.AppProtocol})
		}
		if len(e.ports) == 0 && !(headless && len(svc.GetSpec().GetPorts()) == 0) {
			continue // no port of the service resolves in this pod
		}
		entries = append(entries, e)
	}
	groups := map[string]*corev1.EndpointSubset{}
	for _, e := range entries {
		sortPorts(e.ports)
		k := portsKey(e.ports)
		s := groups[k]
		if s == nil {
			s = &corev1.EndpointSubset{Ports: e.ports}
			groups[k] = s
		}
		if e.ready {
			s.Addresses = append(s.Addresses, e.addr)
		} else {
			s.NotReadyAddresses = append(s.NotReadyAddresses, e.addr)
		}
	}
	out := make([]*corev1.EndpointSubset, 0, len(groups))
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		s := groups[k]
		sortAddresses(s.Addresses)
		sortAddresses(s.NotReadyAddresses)
		out = append(out, s)
	}
	return out
}

func podAddress(svc *corev1.Service, pod *corev1.Pod) *corev1.EndpointAddress {
	m := pod.GetMetadata()
	a := &corev1.EndpointAddress{Ip: pod.GetStatus().GetPodIp(),
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid()}}
	if n := pod.GetSpec().GetNodeName(); n != "" {
		a.NodeName = proto.String(n)
	}
	if h := pod.GetSpec().GetHostname(); h != "" && pod.GetSpec().GetSubdomain() == svc.GetMetadata().GetName() {
		a.Hostname = h
	}
	return a
}

func portsKey(ps []*corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.GetName())
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(p.GetPort())))
		b.WriteByte('/')
		b.WriteString(p.GetProtocol())
		b.WriteByte('/')
		b.WriteString(p.GetAppProtocol())
		b.WriteByte(',')
	}
	return b.String()
}

func sortPorts(ps []*corev1.EndpointPort) {
	slices.SortFunc(ps, func(a, b *corev1.EndpointPort) int {
		if c := strings.Compare(a.GetName(), b.GetName()); c != 0 {
			return c
		}
		if a.GetPort() != b.GetPort() {
			return int(a.GetPort()) - int(b.GetPort())
		}
		return strings.Compare(a.GetProtocol(), b.GetProtocol())
	})
}

func sortAddresses(as []*corev1.EndpointAddress) {
	slices.SortFunc(as, func(a, b *corev1.EndpointAddress) int {
		if c := strings.Compare(a.GetIp(), b.GetIp()); c != 0 {
			return c
		}
		return strings.Compare(a.GetTargetRef().GetUid(), b.GetTargetRef().GetUid())
	})
}

// normalize returns a sorted deep copy of subsets (what Subsets produces for the same content).
func normalize(subsets []*corev1.EndpointSubset) []*corev1.EndpointSubset {
	type keyed struct {
		k string
		s *corev1.EndpointSubset
	}
	var ks []keyed
	for _, s := range subsets {
		s = api.Clone(s)
		for _, p := range s.Ports {
			p.Protocol = protocol(p.Protocol)
		}
		sortPorts(s.Ports)
		sortAddresses(s.Addresses)
		sortAddresses(s.NotReadyAddresses)
		ks = append(ks, keyed{portsKey(s.Ports), s})
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return strings.Compare(a.k, b.k) })
	out := make([]*corev1.EndpointSubset, len(ks))
	for i := range ks {
		out[i] = ks[i].s
	}
	return out
}

// Equal compares two lists of subsets semantically: the order of subsets, addresses and ports does not
// matter, and an empty protocol means TCP.
func Equal(a, b []*corev1.EndpointSubset) bool {
	na, nb := normalize(a), normalize(b)
	if len(na) != len(nb) {
		return false
	}
	for i := range na {
		if !proto.Equal(na[i], nb[i]) {
			return false
		}
	}
	return true
}
