// Package netnstest creates network namespaces, veth links and servers
// inside them for the proxy's tests (data planes and the proxy process).
// Everything it creates is removed when the test ends. Tests call Require
// first: it skips them unless the process is root on Linux and can create
// network namespaces.
package netnstest
