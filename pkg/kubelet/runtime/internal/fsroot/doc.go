// Package fsroot resolves paths inside a root directory (an unpacked image)
// the way the kernel would after chroot(2): ".." never climbs above the root
// and symbolic links, absolute or relative, are followed relative to the
// root. It also looks commands up in a PATH inside such a root.
package fsroot
