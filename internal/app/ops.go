package app

import (
	"context"
	"errors"
	"time"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/ops"
)

// OpsBackend is what `onboarding ops` talks to: the admin API at apiURL
// with ADMIN_TOKEN, or with direct the workflows through Temporal (the
// connection settings and PAYLOAD_ENCRYPTION_KEYS of api and worker), for
// when the API is down. done releases it.
func OpsBackend(ctx context.Context, apiURL string, direct bool) (b ops.Backend, done func(), err error) {
	cfg, err := config.Load(config.ModeOps)
	if err != nil {
		return nil, nil, err
	}
	if !direct {
		if cfg.AdminToken == "" {
			return nil, nil, errors.New("set ADMIN_TOKEN (or use --temporal)")
		}
		return &ops.API{BaseURL: apiURL, Token: cfg.AdminToken}, func() {}, nil
	}
	rt, err := New(ctx, cfg, config.ModeOps)
	if err != nil {
		return nil, nil, err
	}
	c, err := rt.Dial(ctx, 5*time.Second)
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	return &ops.Temporal{Client: c, TaskQueue: cfg.TemporalTaskQueue}, func() { c.Close(); rt.Close() }, nil
}
