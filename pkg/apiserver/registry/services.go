package registry

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver/storage"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Allocation keys: one etcd key per allocated ClusterIP and node port, written in the same transaction
// as the Service, so allocations are never duplicated (whatever the number of apiservers), are released
// with the Service, and survive restarts.
const (
	serviceIPPrefix = storage.Prefix + "ranges/serviceips/"
	nodePortPrefix  = storage.Prefix + "ranges/servicenodeports/"
)

// ServiceAllocator hands out ClusterIPs from the service CIDR and node ports from their range.
type ServiceAllocator struct {
	cli      *clientv3.Client
	cidr     netip.Prefix
	portBase int32
	portSize int32
}

// NewServiceAllocator validates the service CIDR ("10.96.0.0/16") and node port range ("30000-32767").
func NewServiceAllocator(cli *clientv3.Client, cidr, portRange string) (*ServiceAllocator, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return nil, fmt.Errorf("service cluster IP range %q: must be an IPv4 CIDR of at least 4 addresses", cidr)
	}
	var lo, hi int32
	if _, err := fmt.Sscanf(portRange, "%d-%d", &lo, &hi); err != nil || lo <= 0 || hi > 65535 || hi < lo {
		return nil, fmt.Errorf("service node port range %q: must be like 30000-32767", portRange)
	}
	return &ServiceAllocator{cli: cli, cidr: p.Masked(), portBase: lo, portSize: hi - lo + 1}, nil
}

// errAllocationRace: a randomly chosen IP or port was taken concurrently; the create is retried.
var errAllocationRace = errors.New("allocation race")

func (a *ServiceAllocator) randomIP() string {
	base := binary.BigEndian.Uint32(a.cidr.Addr().AsSlice())
	size := uint32(1) << (32 - a.cidr.Bits())
	// Skip the network address and .1 (reserved, like Kubernetes' "kubernetes" service) and broadcast.
	off := 2 + rand.Uint32N(size-3)
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], base+off)
	return netip.AddrFrom4(b).String()
}

func (a *ServiceAllocator) randomPort() int32 { return a.portBase + rand.Int32N(a.portSize) }

func (a *ServiceAllocator) inPortRange(p int32) bool {
	return p >= a.portBase && p < a.portBase+a.portSize
}

type claim struct {
	key    string
	field  string // spec.clusterIP, spec.ports[0].nodePort
	value  string
	random bool
}

func needsClusterIP(svc *corev1.Service) bool {
	return svc.GetSpec().GetType() != "ExternalName" && svc.GetSpec().GetClusterIp() != "None"
}

func needsNodePorts(svc *corev1.Service) bool {
	t := svc.GetSpec().GetType()
	return t == "NodePort" || t == "LoadBalancer"
}

func (a *ServiceAllocator) txn(owner string, add []claim, release []string) *storage.Txn {
	t := &storage.Txn{}
	for _, c := range add {
		t.If = append(t.If, clientv3.Compare(clientv3.CreateRevision(c.key), "=", 0))
		t.Then = append(t.Then, clientv3.OpPut(c.key, owner))
	}
	for _, k := range release {
		t.Then = append(t.Then, clientv3.OpDelete(k))
	}
	t.OnFailed = func(*clientv3.TxnResponse) error {
		for _, c := range add {
			if c.random {
				continue
			}
			resp, err := a.cli.Get(context.Background(), c.key)
			if err == nil && len(resp.Kvs) > 0 && string(resp.Kvs[0].Value) != owner {
				what := "IP"
				if c.field != "spec.clusterIP" {
					what = "port"
				}
				return apierrors.Invalid("Service", api.SplitKeyName(owner), []apierrors.Cause{{Field: c.field,
					Message: fmt.Sprintf("Invalid value: %s: provided %s is already allocated", c.value, what)}})
			}
		}
		return errAllocationRace
	}
	return t
}

// claims computes what svc needs allocated, filling in random picks for empty fields.
func (a *ServiceAllocator) claims(svc *corev1.Service, prev *corev1.Service) ([]claim, error) {
	var out []claim
	spec := svc.GetSpec()
	if needsClusterIP(svc) {
		if spec.ClusterIp == "" && prev != nil && needsClusterIP(prev) {
			spec.ClusterIp = prev.GetSpec().GetClusterIp()
		}
		if spec.ClusterIp == "" {
			spec.ClusterIp = a.randomIP()
			out = append(out, claim{key: serviceIPPrefix + spec.ClusterIp, field: "spec.clusterIP", value: spec.ClusterIp, random: true})
		} else {
			ip, err := netip.ParseAddr(spec.ClusterIp)
			if err != nil || !a.cidr.Contains(ip) {
				return nil, apierrors.Invalid("Service", svc.GetMetadata().GetName(), []apierrors.Cause{{Field: "spec.clusterIP",
					Message: fmt.Sprintf("Invalid value: %q: provided IP is not in the valid range. The range of valid IPs is %s", spec.ClusterIp, a.cidr)}})
			}
			out = append(out, claim{key: serviceIPPrefix + spec.ClusterIp, field: "spec.clusterIP", value: spec.ClusterIp})
		}
		spec.ClusterIps = []string{spec.ClusterIp}
	}
	prevPorts := map[string]int32{}
	if prev != nil && needsNodePorts(prev) {
		for _, p := range prev.GetSpec().GetPorts() {
			prevPorts[strconv.Itoa(int(p.GetPort()))+"/"+p.GetProtocol()] = p.GetNodePort()
		}
	}
	for i, p := range spec.GetPorts() {
		if !needsNodePorts(svc) {
			p.NodePort = 0
			continue
		}
		field := fmt.Sprintf("spec.ports[%d].nodePort", i)
		if p.NodePort == 0 {
			p.NodePort = prevPorts[strconv.Itoa(int(p.GetPort()))+"/"+p.GetProtocol()]
		}
		if p.NodePort == 0 {
			p.NodePort = a.randomPort()
			out = append(out, claim{key: nodePortPrefix + strconv.Itoa(int(p.NodePort)), field: field, value: strconv.Itoa(int(p.NodePort)), random: true})
			continue
		}
		if !a.inPortRange(p.NodePort) {
			return nil, apierrors.Invalid("Service", svc.GetMetadata().GetName(), []apierrors.Cause{{Field: field,
				Message: fmt.Sprintf("Invalid value: %d: provided port is not in the valid range. The range of valid ports is %d-%d", p.NodePort, a.portBase, a.portBase+a.portSize-1)}})
		}
		out = append(out, claim{key: nodePortPrefix + strconv.Itoa(int(p.NodePort)), field: field, value: strconv.Itoa(int(p.NodePort))})
	}
	// The same node port twice in one service (e.g. TCP and UDP of one port) is one claim.
	seen := map[string]bool{}
	dedup := out[:0]
	for _, c := range out {
		if !seen[c.key] {
			seen[c.key] = true
			dedup = append(dedup, c)
		}
	}
	return dedup, nil
}

func keysOf(svc *corev1.Service) []string {
	var keys []string
	if needsClusterIP(svc) && svc.GetSpec().GetClusterIp() != "" {
		keys = append(keys, serviceIPPrefix+svc.GetSpec().GetClusterIp())
	}
	if needsNodePorts(svc) {
		for _, p := range svc.GetSpec().GetPorts() {
			if p.GetNodePort() != 0 {
				keys = append(keys, nodePortPrefix+strconv.Itoa(int(p.GetNodePort())))
			}
		}
	}
	return keys
}

// Hooks returns the service hooks: allocate on create, reallocate on update, release on delete.
func (a *ServiceAllocator) Hooks() Hooks {
	return Hooks{
		OnCreate: func(_ context.Context, obj api.Object) (*storage.Txn, error) {
			svc := obj.(*corev1.Service)
			cl, err := a.claims(svc, nil)
			if err != nil {
				return nil, err
			}
			return a.txn(api.Key(svc), cl, nil), nil
		},
		OnUpdate: func(_ context.Context, next, cur api.Object) (*storage.Txn, error) {
			svc, old := next.(*corev1.Service), cur.(*corev1.Service)
			if needsClusterIP(svc) && needsClusterIP(old) && svc.GetSpec().GetClusterIp() != "" &&
				svc.GetSpec().GetClusterIp() != old.GetSpec().GetClusterIp() {
				return nil, apierrors.Invalid("Service", svc.GetMetadata().GetName(), []apierrors.Cause{{Field: "spec.clusterIP",
					Message: fmt.Sprintf("Invalid value: %q: field is immutable", svc.GetSpec().GetClusterIp())}})
			}
			cl, err := a.claims(svc, old)
			if err != nil {
				return nil, err
			}
			oldKeys := map[string]bool{}
			for _, k := range keysOf(old) {
				oldKeys[k] = true
			}
			var add []claim
			for _, c := range cl {
				if oldKeys[c.key] {
					delete(oldKeys, c.key)
					continue
				}
				add = append(add, c)
			}
			var release []string
			for k := range oldKeys {
				release = append(release, k)
			}
			return a.txn(api.Key(svc), add, release), nil
		},
		OnDelete: func(obj api.Object) *storage.Txn {
			return &storage.Txn{Then: opsDelete(keysOf(obj.(*corev1.Service)))}
		},
	}
}

func opsDelete(keys []string) []clientv3.Op {
	ops := make([]clientv3.Op, len(keys))
	for i, k := range keys {
		ops[i] = clientv3.OpDelete(k)
	}
	return ops
}

// RetryAllocation re-runs a service write that lost a race for a randomly chosen IP or port.
func RetryAllocation(fn func() (api.Object, error)) (api.Object, error) {
	for i := 0; ; i++ {
		obj, err := fn()
		if !errors.Is(err, errAllocationRace) {
			return obj, err
		}
		if i == 32 {
			return nil, apierrors.New(apierrors.ReasonServiceUnavailable, "could not allocate a ClusterIP or node port after %d tries: the range may be full", i+1)
		}
	}
}
