// Command etcd is etcd's own server entry point, built from go.etcd.io/etcd/server/v3
// as a dependency: the upstream module has `replace` lines, so `go install module@version`
// refuses it. Test tooling only.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
