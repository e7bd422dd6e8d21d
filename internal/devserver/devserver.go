// Package devserver runs a Temporal server, and optionally its Web UI, inside
// the process, persisting to a SQLite file so that sign-ups and timers
// survive a restart. It is for `onboarding dev` and the integration tests;
// production uses a Temporal cluster. It links the whole Temporal server:
// import it only from the dev runtime and the integration tests.
package devserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"

	"github.com/kcloud/onboarding/internal/freeport"
)

// Options configure the embedded server.
type Options struct {
	// DataDir holds temporal.db (and temporal.log); it is created.
	DataDir string
	// FrontendAddr is the gRPC frontend's host:port.
	FrontendAddr string
	// UIAddr is the Web UI's host:port; empty runs no UI.
	UIAddr string
	// UICodecEndpoint, when set, is the codec server the UI decodes payloads with.
	UICodecEndpoint string
	Namespace       string
	// SearchAttributes are registered as Keyword attributes at every start.
	SearchAttributes []string
	// LogLevel of the server's own log, written to DataDir/temporal.log.
	LogLevel string
	Log      *slog.Logger
	// TLS, when set, serves the frontend with TLS and requires client
	// certificates signed by TLS.ClientCAFile (mutual TLS).
	TLS *TLS
	// FrontendInterceptors see every frontend call (tests check what
	// clients send, such as the authorization header).
	FrontendInterceptors []grpc.UnaryServerInterceptor
}

// TLS is the frontend's mutual TLS. The server's own clients (its system
// worker, the UI, the search attribute registration) present
// InternalCertFile, which the client CA must have signed; by default the
// server's certificate, which then needs the clientAuth usage too.
type TLS struct {
	CertFile, KeyFile string
	ClientCAFile      string
	// InternalCertFile and InternalKeyFile: default CertFile and KeyFile.
	InternalCertFile, InternalKeyFile string
	// ServerCAFile verifies the frontend's certificate for the internal
	// clients: default ClientCAFile.
	ServerCAFile string
}

func (t *TLS) withDefaults() *TLS {
	c := *t
	if c.InternalCertFile == "" {
		c.InternalCertFile, c.InternalKeyFile = c.CertFile, c.KeyFile
	}
	if c.ServerCAFile == "" {
		c.ServerCAFile = c.ClientCAFile
	}
	return &c
}

// clientConfig is the TLS of the server's own clients.
func (t *TLS) clientConfig(serverName string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.InternalCertFile, t.InternalKeyFile)
	if err != nil {
		return nil, fmt.Errorf("devserver: internal client certificate: %w", err)
	}
	ca, err := os.ReadFile(t.ServerCAFile)
	if err != nil {
		return nil, fmt.Errorf("devserver: server CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("devserver: server CA %s: no certificate", t.ServerCAFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

// Server is a running embedded Temporal server.
type Server struct {
	opts   Options
	server temporal.Server
	ui     *uiServer
	log    *slog.Logger
}

const clusterName = "active"

// Start runs the server and returns once its frontend answers and the
// namespace and search attributes are in place.
func Start(ctx context.Context, opts Options) (*Server, error) {
	opts, host, port, err := opts.prepare()
	if err != nil {
		return nil, err
	}
	// The UI's port is held from here until the UI binds it: the UI server
	// ends the whole process when its port is taken (and, with its logs
	// hidden, says nothing), and the server's start takes seconds in which
	// another process could take a port only checked to be free.
	var uiHold net.Listener
	if opts.UIAddr != "" {
		if uiHold, err = net.Listen("tcp", opts.UIAddr); err != nil {
			return nil, fmt.Errorf("devserver: Temporal UI address %s is in use (set TEMPORAL_UI_ADDR): %w", opts.UIAddr, err)
		}
		defer uiHold.Close() // again after the UI's start: harmless
	}
	sqlCfg, err := opts.prepareDB(ctx)
	if err != nil {
		return nil, err
	}

	cfg, err := serverConfig(host, port, sqlCfg)
	if err != nil {
		return nil, err
	}
	if t := opts.TLS; t != nil {
		client := config.ClientTLS{ServerName: host, RootCAFiles: []string{t.ServerCAFile}}
		cfg.Global.TLS = config.RootTLS{
			Frontend: config.GroupTLS{
				Server: config.ServerTLS{CertFile: t.CertFile, KeyFile: t.KeyFile,
					ClientCAFiles: []string{t.ClientCAFile}, RequireClientAuth: true},
				Client: client,
			},
			SystemWorker: config.WorkerTLS{CertFile: t.InternalCertFile, KeyFile: t.InternalKeyFile, Client: client},
		}
	}
	logger := tlog.NewZapLogger(tlog.BuildZapLogger(tlog.Config{
		Level: opts.LogLevel, OutputFile: filepath.Join(opts.DataDir, "temporal.log"), Format: "json",
	}))
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	claimMapper := authorization.NewNoopClaimMapper()
	dyn := dynamicconfig.StaticClient{
		// One task-queue partition: what the Temporal CLI's dev server
		// does; it cuts tail latency on a small machine.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// Operators see new search attribute values at once.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// A closed workflow is deleted (an erased sign-up's) only once the
		// transfer queue's ack level passes its close: saved every 5 s here
		// instead of 30 s, it goes within seconds.
		dynamicconfig.TransferProcessorUpdateAckInterval.Key(): 5 * time.Second,
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dyn),
		temporal.WithChainedFrontendGrpcInterceptors(opts.FrontendInterceptors...),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start: %w", err)
	}
	s := &Server{opts: opts, server: srv, log: opts.Log}
	if err := s.addSearchAttributes(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	if opts.UIAddr != "" {
		_ = uiHold.Close()
		ui, err := startUI(opts.UIAddr, s.FrontendAddr(), opts.Namespace, opts.UICodecEndpoint, opts.TLS)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.ui = ui
	}
	return s, nil
}

// TLSEnabled reports whether the frontend requires mutual TLS.
func (s *Server) TLSEnabled() bool { return s.opts.TLS != nil }

// FrontendAddr is the gRPC address clients dial.
func (s *Server) FrontendAddr() string {
	host, port, _ := net.SplitHostPort(s.opts.FrontendAddr)
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// UIURL is the Web UI's address, or "" without a UI.
func (s *Server) UIURL() string {
	if s.opts.UIAddr == "" {
		return ""
	}
	return "http://" + s.opts.UIAddr
}

// Stop stops the UI and the server, waiting at most 20 seconds for the
// server (its own limit is minutes).
func (s *Server) Stop() {
	if s.ui != nil {
		s.ui.stop()
	}
	done := make(chan struct{})
	go func() {
		if err := s.server.Stop(); err != nil {
			s.log.Warn("temporal server stop", "error", err)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		s.log.Warn("temporal server did not stop within 20s; leaving it")
	}
}

// addSearchAttributes registers the custom attributes through the operator
// API: the namespace row of an older file may lack attributes added since.
func (s *Server) addSearchAttributes(ctx context.Context) error {
	copts := client.Options{HostPort: s.FrontendAddr(), Namespace: s.opts.Namespace, Logger: discardSDKLogger{}}
	if s.opts.TLS != nil {
		host, _, _ := net.SplitHostPort(s.FrontendAddr())
		tc, err := s.opts.TLS.clientConfig(host)
		if err != nil {
			return err
		}
		copts.ConnectionOptions.TLS = tc
	}
	c, err := client.Dial(copts)
	if err != nil {
		return fmt.Errorf("devserver: dial: %w", err)
	}
	defer c.Close()
	attrs := map[string]enumspb.IndexedValueType{}
	for _, name := range s.opts.SearchAttributes {
		attrs[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: s.opts.Namespace, SearchAttributes: attrs,
		})
		var exists *serviceerror.AlreadyExists
		if err == nil || errors.As(err, &exists) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: search attributes: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// prepare fills in o's defaults and checks it: the TLS files, the data
// directory, and that the frontend's address is free (Start holds the
// UI's). It returns the frontend's host and port.
func (o Options) prepare() (Options, string, int, error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.TLS != nil {
		o.TLS = o.TLS.withDefaults()
		for name, f := range map[string]string{"certificate": o.TLS.CertFile, "key": o.TLS.KeyFile, "client CA": o.TLS.ClientCAFile} {
			if f == "" {
				return o, "", 0, fmt.Errorf("devserver: TLS needs the server %s", name)
			}
		}
	}
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		return o, "", 0, fmt.Errorf("devserver: %w", err)
	}
	host, portStr, err := net.SplitHostPort(o.FrontendAddr)
	if err != nil {
		return o, "", 0, fmt.Errorf("devserver: TEMPORAL_ADDRESS %q: %w", o.FrontendAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return o, "", 0, fmt.Errorf("devserver: TEMPORAL_ADDRESS %q: %w", o.FrontendAddr, err)
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	if err := portFree(net.JoinHostPort(host, portStr)); err != nil {
		return o, "", 0, fmt.Errorf("devserver: Temporal frontend address %s is in use (set TEMPORAL_ADDRESS): %w", o.FrontendAddr, err)
	}
	// The UI's address is checked by holding it (Start).
	return o, host, port, nil
}

// prepareDB creates Temporal's SQLite database with its schema and the
// namespace on first start, or forgets the cluster members of the last run.
func (o Options) prepareDB(ctx context.Context) (*config.SQL, error) {
	dbPath := filepath.Join(o.DataDir, "temporal.db")
	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		// One connection with WAL was the fastest here (see engine notes);
		// busy_timeout covers checkpoints.
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "NORMAL", "busy_timeout": "10000"},
	}
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("devserver: schema: %w", err)
		}
	} else if err := forgetMembers(ctx, dbPath); err != nil {
		return nil, err
	}
	attrs := make(map[string]enumspb.IndexedValueType, len(o.SearchAttributes))
	for _, name := range o.SearchAttributes {
		attrs[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, attrs)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("devserver: namespace: %w", err)
	}
	return sqlCfg, nil
}

func serverConfig(host string, port int, sqlCfg *config.SQL) (*config.Config, error) {
	// The frontend's gRPC port is given; every other gRPC port and each
	// service's membership port is drawn, all different.
	ps, err := freeport.Ports(host, 7)
	if err != nil {
		return nil, fmt.Errorf("devserver: ports: %w", err)
	}
	services := map[string]config.Service{}
	for i, name := range []string{"frontend", "history", "matching", "worker"} {
		grpcPort := port
		if i > 0 {
			grpcPort = ps[3+i]
		}
		services[name] = config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: ps[i], BindOnIP: host}}
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	cfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 10 * time.Second, BroadcastAddress: host},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: addr},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: addr},
	}
	return cfg, nil
}

// forgetMembers removes the cluster members a previous run recorded. This
// server is a cluster of one, and after a kill -9 its dead members' fresh
// heartbeats would make the new services wait for them (up to a minute of
// "Not enough hosts to serve the request") before they form a ring.
func forgetMembers(ctx context.Context, dbPath string) error {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("devserver: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DELETE FROM cluster_membership"); err != nil {
		return fmt.Errorf("devserver: reset membership: %w", err)
	}
	return nil
}

func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}
