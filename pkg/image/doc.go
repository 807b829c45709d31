// Package image builds OCI images from static binaries and keeps the
// kubelet's local image store.
//
// Building: BuildFromBinary makes a reproducible one-layer image holding a
// statically linked ELF binary (its platform read from the ELF header), and
// WriteTarball saves several tagged images as one `docker save` tarball.
//
// Storing: a Store keeps content-addressed blobs under a root directory
// (blobs/sha256/<hex>), a tag table (refs.json), and one extracted,
// read-only-by-convention root filesystem per image ID (rootfs/<hex>) that
// the runtime uses as the lower layer of a container. Images arrive through
// Load (docker save and OCI layout tarballs) or Ensure, which applies the
// Kubernetes imagePullPolicy rules and pulls over HTTPS — plain HTTP (and
// unverified TLS) only for registries listed as insecure. Errors returned by
// Ensure carry a Kubernetes reason (ErrImagePull, ErrImageNeverPull,
// InvalidImageName) and keep the registry's own message.
package image
