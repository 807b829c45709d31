package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/coxswain/coxswain/pkg/api"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// MaxMessageBytes bounds one gRPC message; large lists (tens of thousands of pods) need room.
const MaxMessageBytes = 512 << 20

// Config says how to reach the apiserver.
type Config struct {
	// Server is the apiserver's gRPC address, host:port.
	Server string
	// UserAgent names the calling component in the apiserver's logs and metrics.
	UserAgent string
	// WaitForReady makes calls wait (until their context ends) for the apiserver to be reachable instead
	// of failing at once while it restarts.
	WaitForReady bool
	// DialOptions are added to the defaults (insecure transport, keepalive, large messages).
	DialOptions []grpc.DialOption
}

// Client is a connection to the apiserver with typed accessors for every kind.
type Client struct {
	conn *grpc.ClientConn
	cfg  Config
}

// New connects lazily: the first call dials, and calls fail with Unavailable while the apiserver is down.
func New(cfg Config) (*Client, error) {
	if cfg.Server == "" {
		return nil, errors.New("client: Config.Server is required (host:port of the apiserver)")
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes),
			grpc.WaitForReady(cfg.WaitForReady)),
		// Reconnect quickly after an apiserver restart (gRPC's default starts at 1s).
		grpc.WithConnectParams(grpc.ConnectParams{MinConnectTimeout: 2 * time.Second,
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second}}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
	}
	if cfg.UserAgent != "" {
		opts = append(opts, grpc.WithUserAgent(cfg.UserAgent))
	}
	opts = append(opts, cfg.DialOptions...)
	conn, err := grpc.NewClient(cfg.Server, opts...)
	if err != nil {
		return nil, fmt.Errorf("client: connect to apiserver %s: %w", cfg.Server, err)
	}
	return &Client{conn: conn, cfg: cfg}, nil
}

// Conn is the underlying connection (for the generated typed stubs, health checks...).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Server is the address this client talks to.
func (c *Client) Server() string { return c.cfg.Server }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// For returns the typed client of resource r; T must be r's Go type.
func For[T api.Object](c *Client, r *api.Resource) *Resource[T] {
	var zero T
	if _, ok := r.New().(T); !ok {
		panic(fmt.Sprintf("client: %T is not the Go type of %s", zero, r.Kind))
	}
	return &Resource[T]{cc: c.conn, res: r}
}

// Namespaces et al. are the typed clients of each kind.
func (c *Client) Namespaces() *Resource[*corev1.Namespace] {
	return For[*corev1.Namespace](c, api.Namespaces)
}
func (c *Client) Pods() *Resource[*corev1.Pod]         { return For[*corev1.Pod](c, api.Pods) }
func (c *Client) Nodes() *Resource[*corev1.Node]       { return For[*corev1.Node](c, api.Nodes) }
func (c *Client) Services() *Resource[*corev1.Service] { return For[*corev1.Service](c, api.Services) }
func (c *Client) Endpoints() *Resource[*corev1.Endpoints] {
	return For[*corev1.Endpoints](c, api.Endpoints)
}
func (c *Client) ConfigMaps() *Resource[*corev1.ConfigMap] {
	return For[*corev1.ConfigMap](c, api.ConfigMaps)
}
func (c *Client) Secrets() *Resource[*corev1.Secret] { return For[*corev1.Secret](c, api.Secrets) }
func (c *Client) Events() *Resource[*corev1.Event]   { return For[*corev1.Event](c, api.Events) }
func (c *Client) ReplicaSets() *Resource[*appsv1.ReplicaSet] {
	return For[*appsv1.ReplicaSet](c, api.ReplicaSets)
}
func (c *Client) Deployments() *Resource[*appsv1.Deployment] {
	return For[*appsv1.Deployment](c, api.Deployments)
}
func (c *Client) Leases() *Resource[*coordinationv1.Lease] {
	return For[*coordinationv1.Lease](c, api.Leases)
}

// PodStreams are the pod subresources that stream through the apiserver from the node (logs, exec,
// port-forward), and the scheduler's Bind.
func (c *Client) PodStreams() corev1.PodServiceClient { return corev1.NewPodServiceClient(c.conn) }

// Bind binds a pod to a node; binding an already bound pod fails (IsPrecondition).
func (c *Client) Bind(ctx context.Context, namespace, name, uid, node string) (*corev1.Pod, error) {
	b := &corev1.Binding{Target: &corev1.ObjectReference{Kind: "Node", Name: node}}
	b.Metadata = api.Meta(b)
	b.Metadata.Namespace, b.Metadata.Name, b.Metadata.Uid = namespace, name, uid
	pod, err := c.PodStreams().Bind(ctx, b)
	return pod, wrap(err)
}
