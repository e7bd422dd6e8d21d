package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestOnGivesAPortThatCanBeBound(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			p, err := On(host)
			if err != nil {
				t.Fatal(err)
			}
			if p <= 0 || p > 65535 {
				t.Fatalf("port %d", p)
			}
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
			if err != nil {
				t.Fatalf("port %d is not free: %v", p, err)
			}
			_ = l.Close()
		})
	}
}

func TestAddrAvoidsPortsInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for range 20 {
		a, err := Addr("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if a == busy.Addr().String() {
			t.Fatalf("Addr gave %s, which is in use", a)
		}
	}
}

func TestOnFailsOnAHostItCannotBind(t *testing.T) {
	// 192.0.2.0/24 is TEST-NET-1: no interface here has it.
	if p, err := On("192.0.2.1"); err == nil {
		t.Fatalf("On(192.0.2.1) = %d, want an error", p)
	}
}
