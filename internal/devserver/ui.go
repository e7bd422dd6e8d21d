package devserver

import (
	"fmt"
	"net"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

type uiServer struct{ srv *uiserver.Server }

// UI is a running Temporal Web UI.
type UI struct{ ui *uiServer }

// StartUI serves the Temporal Web UI on addr for the frontend at frontend,
// decoding payloads through codecEndpoint when it is set.
func StartUI(addr, frontend, namespace, codecEndpoint string) (*UI, error) {
	if err := portFree(addr); err != nil {
		return nil, fmt.Errorf("devserver: Temporal UI address %s is in use: %w", addr, err)
	}
	u, err := startUI(addr, frontend, namespace, codecEndpoint, nil)
	if err != nil {
		return nil, err
	}
	return &UI{ui: u}, nil
}

// Stop stops the UI.
func (u *UI) Stop() { u.ui.stop() }

// startUI serves the Temporal Web UI for the frontend at frontend.
func startUI(addr, frontend, namespace, codecEndpoint string, t *TLS) (*uiServer, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("devserver: TEMPORAL_UI_ADDR %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("devserver: TEMPORAL_UI_ADDR %q: %w", addr, err)
	}
	cfg := &uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: frontend,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		HideLogs:            true,
		DisableNewsFetch:    true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
	}
	if t != nil {
		fh, _, _ := net.SplitHostPort(frontend)
		cfg.TLS = uiconfig.TLS{CaFile: t.ServerCAFile, CertFile: t.InternalCertFile, KeyFile: t.InternalKeyFile,
			ServerName: fh, EnableHostVerification: true}
	}
	if codecEndpoint != "" {
		cfg.Codec = uiconfig.Codec{Endpoint: codecEndpoint, IncludeCredentials: true}
	}
	srv := uiserver.NewServer(server_options.WithConfigProvider(cfg))
	// Start binds addr in the background and ends the process when it
	// cannot (the UI server logs a fatal error), so wait for it to answer
	// before anyone is told the server is ready.
	go func() { _ = srv.Start() }()
	if err := waitListening(addr, 10*time.Second); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("devserver: Temporal UI on %s: %w", addr, err)
	}
	return &uiServer{srv: srv}, nil
}

// waitListening waits up to within for something to accept connections on
// addr (an unspecified host is dialled on the loopback address).
func waitListening(addr string, within time.Duration) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	target := net.JoinHostPort(host, port)
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", target, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %s: %w", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (u *uiServer) stop() { u.srv.Stop() }
