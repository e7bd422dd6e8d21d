// Package freeport finds a TCP port nothing listens on, for servers that
// must be told their port before they start (the embedded Temporal server,
// test servers run as processes).
package freeport

import (
	"net"
	"strconv"
)

// On returns a port that is free on host at the time of the call: the
// kernel picks it, and the listener is closed again at once. Another process
// can take it before the caller binds it; callers that can, listen on
// port 0 themselves instead.
func On(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is host:port with a port from On.
func Addr(host string) (string, error) {
	p, err := On(host)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}
