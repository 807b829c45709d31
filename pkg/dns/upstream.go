package dns

import (
	"context"
	"errors"
	"fmt"
	"net"

	mdns "github.com/miekg/dns"
)

// upstreams returns the configured upstreams as host:port, or the
// nameservers of the resolv.conf file when none are configured.
func upstreams(cfg Config) ([]string, error) {
	if cfg.Upstreams != nil {
		out := make([]string, 0, len(cfg.Upstreams))
		for i, u := range cfg.Upstreams {
			hp, err := hostPort(u)
			if err != nil {
				return nil, fmt.Errorf("dns config: upstreams[%d] %q: %w", i, u, err)
			}
			out = append(out, hp)
		}
		return out, nil
	}
	cc, err := mdns.ClientConfigFromFile(cfg.ResolvConf)
	if err != nil {
		return nil, fmt.Errorf("dns config: read upstreams from %s: %w", cfg.ResolvConf, err)
	}
	out := make([]string, 0, len(cc.Servers))
	for _, srv := range cc.Servers {
		if net.ParseIP(srv) == nil {
			continue
		}
		out = append(out, net.JoinHostPort(srv, cc.Port))
	}
	return out, nil
}

// hostPort checks an upstream address, adding port 53 when it has none.
func hostPort(s string) (string, error) {
	if ip := net.ParseIP(s); ip != nil {
		return net.JoinHostPort(s, "53"), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errors.New("not an IP address or IP:port")
	}
	if net.ParseIP(host) == nil {
		return "", errors.New("host is not an IP address")
	}
	if _, err := net.LookupPort("udp", port); err != nil {
		return "", fmt.Errorf("bad port %q", port)
	}
	return s, nil
}

// forward asks the upstreams in turn; over UDP it retries over TCP when
// the answer is truncated and the client asked over TCP.
func (s *Server) forward(ctx context.Context, r *mdns.Msg, overTCP bool) (*mdns.Msg, error) {
	var errs []error
	for _, u := range s.upstreams {
		network := "udp"
		if overTCP {
			network = "tcp"
		}
		c := &mdns.Client{Net: network, Timeout: s.cfg.UpstreamTimeout, UDPSize: 4096}
		resp, _, err := c.ExchangeContext(ctx, r, u)
		if err == nil && resp.Truncated && network == "udp" {
			c.Net = "tcp"
			if full, _, err2 := c.ExchangeContext(ctx, r, u); err2 == nil {
				resp = full
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", u, err))
			continue
		}
		return resp, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("no upstream")
	}
	return nil, errors.Join(errs...)
}
