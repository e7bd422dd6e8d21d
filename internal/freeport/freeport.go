// Package freeport finds a TCP port nothing listens on, for servers that
// must be told their port before they start (the embedded Temporal server,
// test servers run as processes).
//
// A port is only checked free; the server binds it later. Ports are taken
// below the kernel's ephemeral range, which the kernel itself never hands
// out (to a listener on port 0 or to an outgoing connection): between the
// check and the bind only someone binding that very number could take it.
// A port the kernel chose (port 0) could be given to the next caller of
// port 0 — on a busy test machine, often another embedded Temporal server
// picking its own — and the embedded server exits when a port it was told
// to use is taken.
package freeport

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// low is the first port drawn: ports come from [low, the kernel's first
// ephemeral port). 10000 stays clear of the well-known and common service
// ports (PostgreSQL, Redis, SMTP, Temporal's 7233).
const low = 10000

// tries is how many drawn ports are checked before falling back to one the
// kernel picks.
const tries = 64

// On returns a port that is free on host at the time of the call, below the
// kernel's ephemeral range when it can, else one the kernel picks.
func On(host string) (int, error) {
	ps, err := Ports(host, 1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// Ports returns n different ports that are free on host at the time of the
// call, drawn as On draws them: all are held until the last is drawn, so
// that no port is given twice.
func Ports(host string, n int) ([]int, error) {
	ls, err := Listen(host, n)
	if err != nil {
		return nil, err
	}
	defer Close(ls)
	ps := make([]int, len(ls))
	for i, l := range ls {
		ps[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ps, nil
}

// Listen listens on n different ports of host drawn as On draws them, for
// a caller that holds the ports until whoever will bind them is about to;
// on an error it holds none.
func Listen(host string, n int) ([]net.Listener, error) {
	eph := ephemeralStart()
	ls := make([]net.Listener, 0, n)
	for range n {
		l, err := listen(host, eph, rand.IntN)
		if err != nil {
			Close(ls)
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// Close closes listeners from Listen.
func Close(ls []net.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}

// listen is Listen with the first ephemeral port and the random source given.
func listen(host string, ephemeral int, intN func(int) int) (net.Listener, error) {
	if ephemeral > low {
		for range tries {
			p := low + intN(ephemeral-low)
			if l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p))); err == nil {
				return l, nil
			}
		}
	}
	return net.Listen("tcp", net.JoinHostPort(host, "0"))
}

// ephemeralStart is the kernel's first ephemeral port: Linux's
// ip_local_port_range, else 32768 (Linux's default; BSDs, macOS and
// Windows start higher).
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	p, err := strconv.Atoi(f[0])
	if err != nil || p <= 0 {
		return 32768
	}
	return p
}

// Addr is host:port with a port from On.
func Addr(host string) (string, error) {
	p, err := On(host)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}
