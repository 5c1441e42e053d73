package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// order is the start order; stopping goes the other way.
var order = []string{"etcd", "kube-apiserver", "kube-controller-manager"}

type spec struct {
	path  string
	args  []string
	ready func() error
}

type running struct {
	cmd      *exec.Cmd
	done     chan struct{}
	stopping bool
}

type cluster struct {
	dir, kubeconfig string
	specs           map[string]spec
	procs           map[string]*running
	exited          chan string
}

func newCluster(dir, bin, etcdBin string, loadTest bool) (*cluster, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p, err := newPKI(dir)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	for _, c := range []struct {
		name, cn string
		orgs     []string
		server   bool
	}{
		{"apiserver", "kube-apiserver", nil, true},
		{"admin", "portcullis-test-admin", []string{"system:masters"}, false},
		{"controller-manager", "system:kube-controller-manager", nil, false},
	} {
		if err := p.issue(c.name, c.cn, c.orgs, c.server); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", c.name, err)
		}
	}
	if err := p.serviceAccountKey(); err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, fmt.Errorf("free ports: %w", err)
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	server := fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	c := &cluster{
		dir:        dir,
		kubeconfig: p.path("kubeconfig"),
		procs:      map[string]*running{},
		exited:     make(chan string, 8),
	}
	if err := writeKubeconfig(c.kubeconfig, server, p.path("ca.crt"), p.path("admin.crt"), p.path("admin.key")); err != nil {
		return nil, err
	}
	kcmConfig := p.path("controller-manager.kubeconfig")
	if err := writeKubeconfig(kcmConfig, server, p.path("ca.crt"), p.path("controller-manager.crt"), p.path("controller-manager.key")); err != nil {
		return nil, err
	}
	// Every request a service account makes is audited, so tests can name any call the
	// RBAC manifests forbid (verb, resource, namespace) and prove each rule is used.
	auditPolicy := p.path("audit-policy.yaml")
	if err := os.WriteFile(auditPolicy, []byte(auditPolicyYAML), 0o600); err != nil {
		return nil, err
	}
	admin, err := adminHTTP(p)
	if err != nil {
		return nil, err
	}

	apiserverArgs := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[2]),
		// No default route on these machines: name the advertise address, and keep the
		// endpoint reconciler from refusing a loopback one.
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + p.path("apiserver.crt"),
		"--tls-private-key-file=" + p.path("apiserver.key"),
		"--client-ca-file=" + p.path("ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.path("sa.key"),
		"--service-account-signing-key-file=" + p.path("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// No controller creates default ServiceAccounts here: tests create their own.
		"--disable-admission-plugins=ServiceAccount",
		"--audit-policy-file=" + auditPolicy,
		"--audit-log-path=" + filepath.Join(dir, "audit.log"),
		"--audit-log-format=json",
		"--audit-log-maxsize=0",
	}
	if loadTest {
		apiserverArgs = append(apiserverArgs,
			"--enable-priority-and-fairness=false",
			"--max-requests-inflight=0",
			"--max-mutating-requests-inflight=0")
	}

	c.specs = map[string]spec{
		"etcd": {
			path: etcdBin,
			args: []string{
				"--name=default",
				"--data-dir=" + filepath.Join(dir, "etcd-data"),
				"--listen-client-urls=" + etcdURL,
				"--advertise-client-urls=" + etcdURL,
				"--listen-peer-urls=" + peerURL,
				"--initial-advertise-peer-urls=" + peerURL,
				"--initial-cluster=default=" + peerURL,
				"--unsafe-no-fsync",
				"--log-level=warn",
			},
			ready: func() error { return expectBody(http.DefaultClient, etcdURL+"/health", `"health":"true"`) },
		},
		"kube-apiserver": {
			path:  filepath.Join(bin, "kube-apiserver"),
			args:  apiserverArgs,
			ready: func() error {
				if err := expectBody(admin, server+"/readyz", "ok"); err != nil {
					return err
				}
				// /readyz can pass before the RBAC authorizer has its roles: requests then
				// get 403 for a moment. Ready means a bootstrap binding already authorizes.
				return rbacReady(admin, server)
			},
		},
		"kube-controller-manager": {
			path: filepath.Join(bin, "kube-controller-manager"),
			args: []string{
				"--kubeconfig=" + kcmConfig,
				"--controllers=garbage-collector-controller,namespace-controller",
				"--leader-elect=false",
				"--secure-port=0",
				// As in real clusters: each controller runs as its own ServiceAccount
				// (namespace-controller, generic-garbage-collector), whose bootstrap roles
				// allow what it does; the manager's own identity may not deletecollection.
				"--use-service-account-credentials=true",
			},
			// It serves nothing here; alive after a moment is the best sign there is.
			ready: func() error { time.Sleep(300 * time.Millisecond); return nil },
		},
	}
	return c, nil
}

func (c *cluster) logPath(name string) string { return filepath.Join(c.dir, name+".log") }

func (c *cluster) startAll() error {
	for _, name := range order {
		if err := c.start(name); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) stopAll() {
	for i := len(order) - 1; i >= 0; i-- {
		c.stop(order[i])
	}
	os.RemoveAll(filepath.Join(c.dir, "etcd-data"))
}

func (c *cluster) start(name string) error {
	if r := c.procs[name]; r != nil && !r.stopping {
		return errors.New("already running")
	}
	s := c.specs[name]
	log, err := os.OpenFile(c.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(s.path, s.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	r := &running{cmd: cmd, done: make(chan struct{})}
	c.procs[name] = r
	go func() {
		cmd.Wait()
		close(r.done)
		if !r.stopping {
			c.exited <- name
		}
	}()
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-r.done:
			return fmt.Errorf("%s exited while starting (%s): %s", name, cmd.ProcessState, tail(c.logPath(name)))
		default:
		}
		err := s.ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 90s: %v: %s", name, err, tail(c.logPath(name)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *cluster) stop(name string) {
	r := c.procs[name]
	if r == nil {
		return
	}
	r.stopping = true
	delete(c.procs, name)
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}

func expectBody(client *http.Client, url, want string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// rbacReady asks, with a SubjectAccessReview, whether the controller manager may get
// Leases in kube-system: true once the authorizer has loaded the bootstrap roles.
func rbacReady(client *http.Client, server string) error {
	review := `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:kube-controller-manager","resourceAttributes":{"namespace":"kube-system","verb":"get","group":"coordination.k8s.io","resource":"leases"}}}`
	resp, err := client.Post(server+"/apis/authorization.k8s.io/v1/subjectaccessreviews", "application/json", strings.NewReader(review))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"allowed":true`) {
		return fmt.Errorf("RBAC not ready: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

func adminHTTP(p *pki) (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(p.path("admin.crt"), p.path("admin.key"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.caCert)
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}},
	}, nil
}

const auditPolicyYAML = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
`

func writeKubeconfig(path, server, ca, cert, key string) error {
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: testcluster
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: testcluster
  context:
    cluster: testcluster
    user: admin
current-context: testcluster
`, server, ca, cert, key)
	return os.WriteFile(path, []byte(text), 0o600)
}

// tail is the end of a log, for error messages.
func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}
