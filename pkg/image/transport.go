package image

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"time"
)

// guardTransport enforces the insecure-registry rule on every request,
// whatever scheme go-containerregistry picked: plain http is sent only to
// insecure registries, and TLS certificates are verified except for them.
type guardTransport struct {
	insecure map[string]bool // normalised host[:port] and bare host names
	secure   http.RoundTripper
	noVerify http.RoundTripper
}

func newGuardTransport(insecure []string, roots *x509.CertPool) *guardTransport {
	base := func(skipVerify bool) *http.Transport {
		return &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          50,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       &tls.Config{RootCAs: roots, InsecureSkipVerify: skipVerify, MinVersion: tls.VersionTLS12},
		}
	}
	g := &guardTransport{insecure: map[string]bool{}, secure: base(false), noVerify: base(true)}
	for _, r := range insecure {
		g.insecure[normalizeRegistry(r)] = true
	}
	return g
}

// isInsecure reports whether host (host[:port]) is an insecure registry,
// either by exact host:port or by a bare host name entry.
func (g *guardTransport) isInsecure(host string) bool {
	h := normalizeRegistry(host)
	if g.insecure[h] {
		return true
	}
	if name, _, err := net.SplitHostPort(h); err == nil {
		return g.insecure[name]
	}
	return false
}

func (g *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	insecure := g.isInsecure(host)
	if req.URL.Scheme == "http" && !insecure {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &refusedHTTPError{host: host}
	}
	rt := g.secure
	if insecure {
		rt = g.noVerify
	}
	resp, err := rt.RoundTrip(req)
	if err != nil && req.URL.Scheme == "https" && !insecure && answeredHTTP(err) {
		return nil, &PlainHTTPError{Registry: host}
	}
	return resp, err
}

// answeredHTTP reports whether a TLS handshake failed because the server
// answered in plain HTTP.
func answeredHTTP(err error) bool {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/" {
		return true
	}
	return errors.Is(err, http.ErrSchemeMismatch)
}
