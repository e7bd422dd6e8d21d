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

// startUI serves the Temporal Web UI for the frontend at frontend.
func startUI(addr, frontend, namespace, codecEndpoint string) (*uiServer, error) {
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
	if codecEndpoint != "" {
		cfg.Codec = uiconfig.Codec{Endpoint: codecEndpoint, PassAccessToken: false}
	}
	srv := uiserver.NewServer(server_options.WithConfigProvider(cfg))
	go func() { _ = srv.Start() }()
	return &uiServer{srv: srv}, nil
}

func (u *uiServer) stop() { u.srv.Stop() }
