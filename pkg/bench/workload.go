package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"

	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Workload is one benchmark scenario, run against a freshly started cluster.
type Workload interface {
	// Name is the subcommand name (density, startup, churn, watch).
	Name() string
	// Nodes is how many nodes the workload wants.
	Nodes() int
	// Validate checks the parameters before any process starts.
	Validate() error
	// Run drives the workload and returns what it measured.
	Run(ctx context.Context, env *Env) (*WorkloadResult, error)
}

// Env is what a workload runs against.
type Env struct {
	Cluster *Cluster
	Client  *client.Client
	Log     *slog.Logger
}

// WorkloadResult is what a workload measured.
type WorkloadResult struct {
	// Seconds is the window the apiserver's write rate is computed over.
	Seconds float64
	// Figures are the workload's own numbers (reported and medianed across runs).
	Figures []Figure
	// Series are the pod counts over time (plotted).
	Series []Point
	// AvgPodBytes is the mean protobuf-encoded pod size (the etcd reference's value size).
	AvgPodBytes int
	// Failures are why the workload did not reach its goal (e.g. a timeout); the run still reports.
	Failures []string
	// Detail is the workload-specific result, written to the JSON file.
	Detail any
}

// Figure is one reported number.
type Figure struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
}

// MarshalJSON writes NaN and infinities as null.
func (f Figure) MarshalJSON() ([]byte, error) {
	type plain struct {
		Key   string   `json:"key"`
		Label string   `json:"label"`
		Unit  string   `json:"unit"`
		Value *float64 `json:"value"`
	}
	p := plain{Key: f.Key, Label: f.Label, Unit: f.Unit}
	if !math.IsNaN(f.Value) && !math.IsInf(f.Value, 0) {
		p.Value = &f.Value
	}
	return jsonMarshal(p)
}

// Benchmark pods are small: 10m CPU, 16Mi memory.
var podRequests = map[string]string{"cpu": "10m", "memory": "16Mi"}

// Image is the benchmark pods' image; the churn workload rolls out ImageV2.
const (
	Image   = "coxswain/demo:v1"
	ImageV2 = "coxswain/demo:v2"
)

func podSpec(image string) *corev1.PodSpec {
	return &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: image,
		Resources: &corev1.ResourceRequirements{Requests: maps(podRequests)}}}}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// newDeployment is a Deployment of replicas pods labeled app=name plus labels.
func newDeployment(ns, name string, replicas int, image string, labels map[string]string) *appsv1.Deployment {
	sel := map[string]string{"app": name}
	tl := maps(labels)
	tl["app"] = name
	return &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: maps(labels)},
		Spec: &appsv1.DeploymentSpec{
			Replicas: proto.Int32(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: tl}, Spec: podSpec(image)},
		},
	}
}

// ensureNamespace creates a namespace (an existing one is fine).
func ensureNamespace(ctx context.Context, c *client.Client, name string) error {
	ns := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}
	err := retry(ctx, func() error {
		_, err := c.Namespaces().Create(ctx, ns)
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// createOnce creates obj, retrying transient errors; AlreadyExists after a retry means an earlier
// attempt succeeded.
func createOnce[T interface {
	*corev1.Pod | *appsv1.Deployment
	GetMetadata() *metav1.ObjectMeta
	proto.Message
}](ctx context.Context, r *client.Resource[T], obj T) (T, error) {
	tried := false
	var out T
	err := retry(ctx, func() error {
		var err error
		out, err = r.Create(ctx, obj)
		if apierrors.IsAlreadyExists(err) && tried {
			out, err = r.Get(ctx, obj.GetMetadata().GetNamespace(), obj.GetMetadata().GetName())
		}
		tried = true
		return err
	})
	return out, err
}

func idx(i int) string { return strconv.Itoa(i) }

func sinceMs(from, to int64) float64 { return float64(to-from) / 1e6 }

func protoSize(m proto.Message) int { return proto.Size(m) }
