package topology

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// Every address New lays out stays held until its process starts: another
// test's Temporal server asking the kernel for free ports meanwhile cannot
// be given one (CI once saw the mailbox's port taken that way).
func TestNewHoldsPortsUntilStart(t *testing.T) {
	topo, err := New(Options{Bin: "/nonexistent", Dir: t.TempDir(), APIs: 2, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close()
	addrs := map[string]string{
		"temporal": topo.TemporalAddr, "temporal ui": topo.uiAddr, "smtp": topo.SMTPAddr,
		"mailbox": strings.TrimPrefix(topo.MailboxURL, "http://"),
	}
	for i, u := range topo.APIURLs {
		addrs["api "+strconv.Itoa(i)] = strings.TrimPrefix(u, "http://")
	}
	for i, u := range topo.WorkerURLs {
		addrs["worker "+strconv.Itoa(i)] = strings.TrimPrefix(u, "http://")
	}
	seen := map[string]bool{}
	for name, a := range addrs {
		if seen[a] {
			t.Errorf("%s: %s given twice", name, a)
		}
		seen[a] = true
		if l, err := net.Listen("tcp", a); err == nil {
			l.Close()
			t.Errorf("%s: %s is free before its process starts", name, a)
		}
	}
	// Start lets go of a process's ports (here it fails to run), and so
	// does Close for those never started.
	if err := topo.Mailbox.Start(); err == nil {
		t.Fatal("a missing binary started")
	}
	if l, err := net.Listen("tcp", addrs["mailbox"]); err != nil {
		t.Errorf("the mailbox's port is still held after its Start: %v", err)
	} else {
		l.Close()
	}
	topo.Close()
	if l, err := net.Listen("tcp", addrs["api 1"]); err != nil {
		t.Errorf("an api's port is still held after Close: %v", err)
	} else {
		l.Close()
	}
}
