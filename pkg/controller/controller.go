package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/workqueue"
)

// SyncFunc reconciles the object with key "namespace/name" (or "name").
type SyncFunc func(ctx context.Context, key string) error

// Config configures a controller.
type Config struct {
	// Name labels the controller's metrics and logs ("replicaset", "deployment", ...).
	Name string
	// Workers is the number of keys synced in parallel (default 2).
	Workers int
	Sync    SyncFunc
	// RateLimiter overrides the default per-key backoff (5ms doubling to 1000s, 10 qps overall).
	RateLimiter workqueue.RateLimiter[string]
	Registerer  prometheus.Registerer
	Logger      *slog.Logger
}

// Controller is a workqueue plus workers.
type Controller struct {
	cfg   Config
	queue *workqueue.Queue[string]
	log   *slog.Logger
	m     *metrics
}

// RequeueAfterError asks for the key to be synced again after a delay without counting as a failure.
type RequeueAfterError struct{ After time.Duration }

func (e *RequeueAfterError) Error() string { return fmt.Sprintf("requeue after %v", e.After) }

// RequeueAfter returns an error that requeues the key after d.
func RequeueAfter(d time.Duration) error { return &RequeueAfterError{After: d} }

// New builds a controller; Run starts its workers.
func New(cfg Config) (*Controller, error) {
	if cfg.Name == "" || cfg.Sync == nil {
		return nil, errors.New("controller: Name and Sync are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	q, err := workqueue.New(workqueue.Config[string]{Name: cfg.Name, Registerer: cfg.Registerer, RateLimiter: cfg.RateLimiter})
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Controller{cfg: cfg, queue: q, log: cfg.Logger.With("controller", cfg.Name), m: m}, nil
}

// Enqueue adds a key.
func (c *Controller) Enqueue(key string) { c.queue.Add(key) }

// EnqueueObject adds an object's key.
func (c *Controller) EnqueueObject(obj api.Object) { c.queue.Add(api.Key(obj)) }

// EnqueueAfter adds a key after d.
func (c *Controller) EnqueueAfter(key string, d time.Duration) { c.queue.AddAfter(key, d) }

// Len is the number of queued keys.
func (c *Controller) Len() int { return c.queue.Len() }

// Run starts the workers and blocks until ctx ends; queued work in progress finishes first.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return ctx.Err()
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	start := time.Now()
	err := c.cfg.Sync(ctx, key)
	c.m.duration.WithLabelValues(c.cfg.Name).Observe(time.Since(start).Seconds())
	var ra *RequeueAfterError
	switch {
	case err == nil:
		c.queue.Forget(key)
		c.m.total.WithLabelValues(c.cfg.Name, "success").Inc()
	case errors.As(err, &ra):
		c.queue.Forget(key)
		c.queue.AddAfter(key, ra.After)
		c.m.total.WithLabelValues(c.cfg.Name, "requeue_after").Inc()
	case ctx.Err() != nil:
	default:
		c.m.total.WithLabelValues(c.cfg.Name, "error").Inc()
		c.m.errors.WithLabelValues(c.cfg.Name).Inc()
		c.log.Info("sync failed; requeued with backoff", "key", key, "err", err, "retries", c.queue.NumRequeues(key))
		c.queue.AddRateLimited(key)
	}
	return true
}
