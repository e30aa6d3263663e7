package multihost

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// netHost is one simulated host: a network namespace joined to the test's
// (root) namespace by a veth pair, root side rootIP, host side hostIP, /30.
type netHost struct {
	ns             string
	rootIP, hostIP string
}

// ipCmd runs ip(8) and fails t with its output.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// netHosts creates n namespaces, named uniquely for this run, each with a
// veth pair in a /30 of a 10.x.y.0/24 that no interface of this machine
// uses. Cleanup deletes them (which destroys their veth pairs) and any root
// side left behind; the caller must have stopped what runs inside first,
// which t.Cleanup's order gives when the replicas are started after this.
func netHosts(t *testing.T, n int) []netHost {
	t.Helper()
	pruneNamespaces(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	prefix, err := freeSubnet()
	if err != nil {
		t.Fatal(err)
	}
	var hosts []netHost
	for i := range n {
		h := netHost{
			ns:     fmt.Sprintf("%s%d-%s-%d", nsPrefix, os.Getpid(), id, i),
			rootIP: fmt.Sprintf("%s.%d", prefix, 4*i+1),
			hostIP: fmt.Sprintf("%s.%d", prefix, 4*i+2),
		}
		rootIf, hostIf := fmt.Sprintf("sw%s%dr", id, i), fmt.Sprintf("sw%s%dh", id, i)
		ipCmd(t, "netns", "add", h.ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "delete", h.ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns delete %s: %v\n%s", h.ns, err, out)
			}
			// Gone with the namespace's end of the pair; deleted here
			// only if the pair was left half made.
			if exec.Command("ip", "link", "show", rootIf).Run() == nil {
				_ = exec.Command("ip", "link", "delete", rootIf).Run()
			}
		})
		ipCmd(t, "link", "add", rootIf, "type", "veth", "peer", "name", hostIf, "netns", h.ns)
		ipCmd(t, "addr", "add", h.rootIP+"/30", "dev", rootIf)
		ipCmd(t, "link", "set", rootIf, "up")
		ipCmd(t, "-n", h.ns, "addr", "add", h.hostIP+"/30", "dev", hostIf)
		ipCmd(t, "-n", h.ns, "link", "set", hostIf, "up")
		ipCmd(t, "-n", h.ns, "link", "set", "lo", "up")
		hosts = append(hosts, h)
	}
	return hosts
}

// nsPrefix starts the namespaces' names, followed by the creating test
// process's pid.
const nsPrefix = "stowaway-multihost-"

// pruneNamespaces deletes the namespaces of test processes that no longer
// run: a test killed by its -timeout runs no cleanup. The namespaces of a
// live process (another test binary running now) are left alone.
func pruneNamespaces(t *testing.T) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		ns, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(ns, nsPrefix)
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue
		}
		if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			t.Logf("ip netns delete %s (left by process %s): %v\n%s", ns, pid, err, out)
		} else {
			t.Logf("deleted namespace %s, left by process %s", ns, pid)
		}
	}
}

// freeSubnet picks 10.x.y (a /24) that no local address falls in.
func freeSubnet() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("interface addresses: %w", err)
	}
	for range 100 {
		x, y := 100+mrand.IntN(150), mrand.IntN(256)
		_, sub, _ := net.ParseCIDR(fmt.Sprintf("10.%d.%d.0/24", x, y))
		used := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && (sub.Contains(ipn.IP) || ipn.Contains(sub.IP)) {
				used = true
			}
		}
		if !used {
			return fmt.Sprintf("10.%d.%d", x, y), nil
		}
	}
	return "", errors.New("no free 10.x.y.0/24 for the test's veth pairs")
}

// proxy forwards TCP connections from a listener on a host's root-side
// address to a service on the root namespace's loopback (PostgreSQL, the S3
// server, the webhook receiver), which a namespace cannot reach itself.
// While held, no byte moves in either direction on any connection: the
// host's view of the service stalls, as over a partitioned network.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	held   bool
	closed bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

// newProxy listens on addr (HOST:0) and forwards to target; t's cleanup
// closes it.
func newProxy(t *testing.T, addr, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("proxy to %s: %v", target, err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// addr is the listener's HOST:PORT.
func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, waiting while the proxy is held, and closes both
// when either side ends.
func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held && !p.closed {
				p.cond.Wait()
			}
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hold stops (true) or resumes (false) every byte through the proxy.
func (p *proxy) hold(on bool) {
	p.mu.Lock()
	p.held = on
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
