// Package testrelay is a TCP relay for tests: a pass-through (L4) load
// balancer in front of a collector. It can name each client in a PROXY
// protocol v2 header, send from a chosen source address, and stop forwarding
// on the connections it holds, as a dead network path does.
package testrelay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pires/go-proxyproto"
)

// Options configure a relay.
type Options struct {
	// Listen is where clients connect (default 127.0.0.1:0).
	Listen string
	// Source is the address the relay's connections to the target come
	// from; zero lets the system choose.
	Source netip.Addr
	// ProxyHeader makes the relay open each connection to the target with a
	// PROXY v2 header naming the client's address, as HAProxy's
	// send-proxy-v2 does.
	ProxyHeader bool
}

// Relay forwards TCP connections to a target.
type Relay struct {
	target string
	opts   Options
	lis    net.Listener

	mu    sync.Mutex
	pairs []*pair
	wg    sync.WaitGroup
}

type pair struct {
	client, upstream net.Conn
	stalled          atomic.Bool
}

// Start runs a relay to target until the test ends.
func Start(t testing.TB, target string, o Options) *Relay {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", o.Listen)
	if err != nil {
		t.Fatalf("relay: listen on %s: %v", o.Listen, err)
	}
	r := &Relay{target: target, opts: o, lis: lis}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.Close)
	return r
}

// Addr is where clients connect.
func (r *Relay) Addr() string { return r.lis.Addr().String() }

// Stall stops forwarding on every connection open now, in both directions:
// what either side sends is read and dropped, and the connections stay open.
// Connections made afterwards are forwarded as usual.
func (r *Relay) Stall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pairs {
		p.stalled.Store(true)
	}
}

// Close stops the relay and closes every connection.
func (r *Relay) Close() {
	r.lis.Close()
	r.mu.Lock()
	for _, p := range r.pairs {
		p.client.Close()
		p.upstream.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.lis.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := r.serve(c); err != nil && !errors.Is(err, net.ErrClosed) {
				c.Close()
			}
		}()
	}
}

func (r *Relay) serve(client net.Conn) error {
	d := net.Dialer{}
	if r.opts.Source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: r.opts.Source.AsSlice()}
	}
	up, err := d.Dial("tcp", r.target)
	if err != nil {
		return fmt.Errorf("relay: dial %s: %w", r.target, err)
	}
	if r.opts.ProxyHeader {
		h := proxyproto.HeaderProxyFromAddrs(2, client.RemoteAddr(), up.RemoteAddr())
		if _, err := h.WriteTo(up); err != nil {
			up.Close()
			return fmt.Errorf("relay: PROXY header: %w", err)
		}
	}
	p := &pair{client: client, upstream: up}
	r.mu.Lock()
	r.pairs = append(r.pairs, p)
	r.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { forward(up, client, &p.stalled); done <- struct{}{} }()
	go func() { forward(client, up, &p.stalled); done <- struct{}{} }()
	<-done
	client.Close()
	up.Close()
	<-done
	return nil
}

// forward copies src to dst until either side ends, dropping what it reads
// while stalled.
func forward(dst, src net.Conn, stalled *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !stalled.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed side: serve closes both
		}
	}
}
