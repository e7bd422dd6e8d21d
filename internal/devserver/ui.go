package devserver

import (
	"fmt"
	"net"
	"strconv"

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
	go func() { _ = srv.Start() }()
	return &uiServer{srv: srv}, nil
}

func (u *uiServer) stop() { u.srv.Stop() }
