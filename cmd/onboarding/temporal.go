//go:build !lean

package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/devmode"
	"github.com/kcloud/onboarding/internal/devserver"
)

// temporalCmd runs only the embedded Temporal server: the engine of dev
// mode as its own process, for the api + worker topology on one machine
// (benchmarks, fault tests).
func temporalCmd() *cobra.Command {
	var t devserver.TLS
	cmd := &cobra.Command{
		Use:   "temporal",
		Short: "Run only the embedded Temporal server (and UI) of dev mode, state in DATA_DIR/temporal",
		Long: `temporal runs dev mode's embedded Temporal server (and its UI on TEMPORAL_UI_ADDR)
as a process of its own, on TEMPORAL_ADDRESS, for api + worker set-ups on one
machine. With --tls-cert, --tls-key and --tls-client-ca its frontend speaks TLS
and requires client certificates signed by that CA (as a secured cluster does);
the server's own clients present --tls-internal-cert (default: --tls-cert, which
then needs the clientAuth usage too).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var tls *devserver.TLS
			if t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != "" {
				tls = &t
			}
			return devmode.RunTemporal(cmd.Context(), tls, os.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&t.CertFile, "tls-cert", "", "frontend TLS certificate (PEM)")
	f.StringVar(&t.KeyFile, "tls-key", "", "its private key (PEM)")
	f.StringVar(&t.ClientCAFile, "tls-client-ca", "", "CA whose client certificates the frontend accepts (required with TLS)")
	f.StringVar(&t.InternalCertFile, "tls-internal-cert", "", "client certificate of the server's own clients (default --tls-cert)")
	f.StringVar(&t.InternalKeyFile, "tls-internal-key", "", "its key (default --tls-key)")
	f.StringVar(&t.ServerCAFile, "tls-server-ca", "", "CA that signed --tls-cert, for the server's own clients (default --tls-client-ca)")
	return cmd
}
