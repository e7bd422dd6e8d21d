package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/mailbox"
)

// RunMailbox runs only dev mode's SMTP capture server (DEV_SMTP_ADDR, mail
// kept in DATA_DIR/mailbox.jsonl) with its HTTP side on httpAddr, until ctx
// ends: `onboarding mailbox`, for the api + worker set-ups on one machine.
func RunMailbox(ctx context.Context, httpAddr string, out io.Writer) error {
	cfg, err := config.Load(config.ModeDev)
	if err != nil {
		return err
	}
	log := Logger(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return err
	}
	box, err := mailbox.Open(filepath.Join(cfg.DataDir, "mailbox.jsonl"))
	if err != nil {
		return err
	}
	srv, err := mailbox.Listen(cfg.DevSMTPAddr, box, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "mailbox ready: SMTP %s, HTTP http://%s/dev/mailbox\n", srv.Addr(), ln.Addr())
	return Serve(ctx, ln, srv.HTTP(), log)
}
