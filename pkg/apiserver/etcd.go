package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// embeddedEtcd runs a single-member etcd inside the apiserver's process.
type embeddedEtcd struct {
	e        *embed.Etcd
	endpoint string
}

func startEmbeddedEtcd(ctx context.Context, dataDir string, log *slog.Logger) (*embeddedEtcd, error) {
	dir := filepath.Join(dataDir, "etcd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded etcd: data dir: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Name = "coxswain"
	// Listen on free loopback ports; the advertised peer URL is a constant so the member keeps its
	// identity across restarts (a single member never dials its peers).
	client, _ := url.Parse("http://127.0.0.1:0")
	peer, _ := url.Parse("http://127.0.0.1:0")
	adv, _ := url.Parse("http://localhost:2380")
	advClient, _ := url.Parse("http://localhost:2379")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*advClient}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*adv}
	cfg.InitialCluster = cfg.Name + "=" + adv.String()
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.AutoCompactionMode = "revision"
	cfg.AutoCompactionRetention = "100000"
	cfg.QuotaBackendBytes = 8 << 30
	cfg.SnapshotCount = 50000
	cfg.WatchProgressNotifyInterval = 5 * time.Second
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd: not ready after 60s")
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	endpoint := e.Clients[0].Addr().String()
	log.Info("embedded etcd started", "dir", dir, "endpoint", endpoint)
	return &embeddedEtcd{e: e, endpoint: endpoint}, nil
}

func (e *embeddedEtcd) Close() { e.e.Close() }

func newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        10 * time.Second,
		Logger:             zap.NewNop(),
		MaxCallSendMsgSize: 64 << 20,
		MaxCallRecvMsgSize: 1 << 30,
		DialKeepAliveTime:  30 * time.Second,
	})
}
