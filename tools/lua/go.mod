// Test tooling only, never part of the product: luacheck-health runs the Argo CD
// health checks in deploy/argocd in gopher-lua (Argo CD's Lua runtime). Built by `tools/build lua`;
// `go test ./...` here runs the same cases.
module portcullis.dev/tools/lua

go 1.26.0

require (
	github.com/yuin/gopher-lua v1.1.2
	sigs.k8s.io/yaml v1.6.0
)

require go.yaml.in/yaml/v2 v2.4.2 // indirect
