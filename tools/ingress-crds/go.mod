// Test tooling only, never part of the product: the CRDs of the ingress and gateway
// projects whose examples we ship (examples/ingress/), taken from their Go modules so the
// tests can validate our examples against them with `kubectl apply --dry-run=server`.
// Nothing here is built; `tools/build ingress-crds` copies the CRD files out of the
// module cache. Pinned with `go mod download` (go.sum holds the hashes).
module portcullis.dev/tools/ingress-crds

go 1.26.0

require (
	github.com/envoyproxy/gateway v1.9.1
	github.com/traefik/traefik/v3 v3.7.13
	sigs.k8s.io/gateway-api v1.6.3
)
