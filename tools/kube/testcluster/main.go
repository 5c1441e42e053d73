// Command testcluster runs a real, minimal Kubernetes control plane on 127.0.0.1 for
// Portcullis's tests: etcd, kube-apiserver (RBAC, client-certificate admin credentials,
// a service-account issuer) and kube-controller-manager with only the garbage collector
// and the namespace controller. Test tooling only; never part of the product.
//
// It prints "KUBECONFIG=<path>" once the API server is ready, then supervises:
//   - with -stdin (the Rust test support), standard input carries commands, one a line:
//     "stop NAME", "start NAME", "restart NAME" (NAME: etcd, kube-apiserver,
//     kube-controller-manager), each answered "ok NAME" or "error ...". End of input
//     (the test process exited, however it died) stops everything;
//   - SIGTERM or SIGINT stops everything (scripts/cluster down);
//   - every child gets SIGKILL from the kernel if this process dies first (Pdeathsig),
//     so no process outlives its supervisor.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

func main() {
	dir := flag.String("dir", "", "directory for certificates, kubeconfig, etcd data and logs (required)")
	bin := flag.String("bin", "", "directory holding etcd, kube-apiserver, kube-controller-manager (default: this program's directory)")
	etcdBin := flag.String("etcd", "", "path of the etcd binary (default: <bin>/etcd)")
	useStdin := flag.Bool("stdin", false, "read commands from standard input; stop everything at its end")
	loadTest := flag.Bool("load-test", false, "turn off the API server's own throttling (priority and fairness, in-flight limits)")
	flag.Parse()
	if *dir == "" {
		fatal("testcluster: -dir is required")
	}
	if *bin == "" {
		self, err := os.Executable()
		if err != nil {
			fatal("testcluster: cannot find own path: %v", err)
		}
		*bin = filepath.Dir(self)
	}
	if *etcdBin == "" {
		*etcdBin = filepath.Join(*bin, "etcd")
	}
	// Pdeathsig is tied to the thread that started the child: keep every start on one
	// locked thread, which lives as long as main.
	runtime.LockOSThread()

	abs, err := filepath.Abs(*dir)
	if err != nil {
		fatal("testcluster: %v", err)
	}
	c, err := newCluster(abs, *bin, *etcdBin, *loadTest)
	if err != nil {
		fatal("testcluster: %v", err)
	}
	if err := c.startAll(); err != nil {
		c.stopAll()
		fatal("testcluster: %v (logs in %s)", err, abs)
	}
	fmt.Printf("KUBECONFIG=%s\n", c.kubeconfig)
	os.Stdout.Sync()

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	commands := make(chan string)
	if *useStdin {
		go func() {
			scanner := bufio.NewScanner(os.Stdin)
			for scanner.Scan() {
				commands <- strings.TrimSpace(scanner.Text())
			}
			close(commands)
		}()
	}
	for {
		select {
		case <-signals:
			c.stopAll()
			return
		case line, open := <-commands:
			if !open {
				c.stopAll()
				return
			}
			fmt.Println(c.command(line))
			os.Stdout.Sync()
		case name := <-c.exited:
			fmt.Fprintf(os.Stderr, "testcluster: %s exited unexpectedly; see %s\n", name, c.logPath(name))
		}
	}
}

func (c *cluster) command(line string) string {
	verb, name, _ := strings.Cut(line, " ")
	if _, known := c.specs[name]; !known {
		return fmt.Sprintf("error unknown process %q", name)
	}
	var err error
	switch verb {
	case "stop":
		c.stop(name)
	case "start":
		err = c.start(name)
	case "restart":
		c.stop(name)
		err = c.start(name)
	default:
		return fmt.Sprintf("error unknown command %q (stop, start, restart)", verb)
	}
	if err != nil {
		return fmt.Sprintf("error %s: %v", name, err)
	}
	return "ok " + name
}

func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
