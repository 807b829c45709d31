package apiserver

import (
	"context"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
)

// UserInfo is an authenticated caller.
type UserInfo struct {
	Name   string
	Groups []string
}

// Authenticator says who is calling. The default trusts TLS client certificates (CN as user, O as
// groups) and otherwise calls the caller system:anonymous; mTLS-only deployments plug in a stricter one.
type Authenticator interface {
	Authenticate(ctx context.Context) (*UserInfo, error)
}

// RequestAttributes describe a request for authorization.
type RequestAttributes struct {
	User      *UserInfo
	Verb      string // create, get, list, watch, update, updateStatus, delete, bind, logs, exec, portForward
	Resource  string // "pods", "deployments.apps"
	Namespace string
	Name      string
}

// Authorizer decides whether a request may proceed (RBAC and node restriction plug in here).
type Authorizer interface {
	Authorize(ctx context.Context, a RequestAttributes) (allowed bool, reason string, err error)
}

type defaultAuthenticator struct{}

func (defaultAuthenticator) Authenticate(ctx context.Context) (*UserInfo, error) {
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			c := ti.State.PeerCertificates[0]
			return &UserInfo{Name: c.Subject.CommonName, Groups: append([]string{"system:authenticated"}, c.Subject.Organization...)}, nil
		}
	}
	return &UserInfo{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}, nil
}

// AlwaysAllow authorizes everything (the default until RBAC lands).
type AlwaysAllow struct{}

// Authorize implements Authorizer.
func (AlwaysAllow) Authorize(context.Context, RequestAttributes) (bool, string, error) {
	return true, "", nil
}

type userKey struct{}

// UserFrom returns the authenticated caller of a request.
func UserFrom(ctx context.Context) *UserInfo {
	u, _ := ctx.Value(userKey{}).(*UserInfo)
	return u
}

func (s *Server) authorize(ctx context.Context, verb, resource, namespace, name string) (context.Context, error) {
	user, err := s.authn.Authenticate(ctx)
	if err != nil {
		return ctx, apierrors.New(apierrors.ReasonUnauthorized, "Unauthorized: %v", err)
	}
	ok, reason, err := s.authz.Authorize(ctx, RequestAttributes{User: user, Verb: verb, Resource: resource, Namespace: namespace, Name: name})
	if err != nil {
		return ctx, apierrors.Internal(err)
	}
	if !ok {
		return ctx, apierrors.Forbidden("%s is forbidden: User %q cannot %s resource %q in namespace %q: %s", resource, user.Name, verb, resource, namespace, reason)
	}
	return context.WithValue(ctx, userKey{}, user), nil
}
