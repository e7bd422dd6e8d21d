// Package store opens the application database (PostgreSQL or SQLite) and
// applies its versioned migrations.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	// The pure-Go SQLite driver, registered as "sqlite"; the embedded
	// Temporal server links the same one.
	_ "modernc.org/sqlite"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database engine behind a DB.
type Dialect string

// The supported engines.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is an open application database.
type DB struct {
	*gorm.DB
	Dialect Dialect
	sqlDB   *sql.DB
}

// Open connects to DATABASE_URL: postgres://… or sqlite:///path/file.db
// (the directory is created). It does not migrate.
func Open(ctx context.Context, url string, log *slog.Logger) (*DB, error) {
	gcfg := &gorm.Config{
		Logger:                 newLogger(log),
		SkipDefaultTransaction: true,
		// Prepared statements are cached per connection: SQLite parses
		// each statement once instead of on every call.
		PrepareStmt:                              true,
		DisableForeignKeyConstraintWhenMigrating: true,
		NowFunc:                                  func() time.Time { return time.Now().UTC() },
	}
	var (
		gdb     *gorm.DB
		dialect Dialect
		err     error
	)
	switch {
	case strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"):
		dialect = Postgres
		gdb, err = gorm.Open(postgres.Open(url), gcfg)
	case strings.HasPrefix(url, "sqlite://"):
		dialect = SQLite
		path := strings.TrimPrefix(url, "sqlite://")
		if path == "" {
			return nil, errors.New("store: sqlite:// needs a file path")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		// WAL lets readers run beside the one writer; busy_timeout waits
		// for the write lock instead of failing; BEGIN IMMEDIATE takes it
		// up front so two writers never deadlock on an upgrade.
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
		gdb, err = gorm.Open(sqlite.New(sqlite.Config{DriverName: "sqlite", DSN: dsn}), gcfg)
	default:
		return nil, fmt.Errorf("store: DATABASE_URL must start with postgres:// or sqlite://")
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dialect, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if dialect == SQLite {
		sqlDB.SetMaxOpenConns(4)
	} else {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	db := &DB{DB: gdb, Dialect: dialect, sqlDB: sqlDB}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return db, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (db *DB) Close() error { return db.sqlDB.Close() }

// Migrate applies the pending migrations of the dialect, in order, and
// records them in goose_db_version. It returns the versions it applied.
func (db *DB) Migrate(ctx context.Context) ([]int64, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// Pending lists the versions of the migrations not yet applied.
func (db *DB) Pending(ctx context.Context) ([]int64, error) {
	st, err := db.status(ctx)
	if err != nil {
		return nil, err
	}
	var pending []int64
	for _, s := range st {
		if s.State == goose.StatePending {
			pending = append(pending, s.Source.Version)
		}
	}
	return pending, nil
}

// MigrationStatus lists each migration and whether it is applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]string, error) {
	st, err := db.status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(st))
	for _, s := range st {
		out = append(out, fmt.Sprintf("%05d %-8s %s", s.Source.Version, s.State, filepath.Base(s.Source.Path)))
	}
	return out, nil
}

func (db *DB) status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migration status: %w", err)
	}
	return st, nil
}

func (db *DB) provider() (*goose.Provider, error) {
	dir := "migrations/" + string(db.Dialect)
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	gd := goose.DialectPostgres
	var opts []goose.ProviderOption
	if db.Dialect == SQLite {
		gd = goose.DialectSQLite3
	} else {
		// Several api and worker processes may start at once: an advisory
		// lock lets one of them migrate while the others wait.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db.sqlDB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "constraint failed: UNIQUE")
}

// gormLogger sends GORM's warnings and errors to slog and drops the rest.
func newLogger(log *slog.Logger) logger.Interface {
	if log == nil {
		return logger.Discard
	}
	return &slogLogger{log: log, slow: 500 * time.Millisecond}
}

type slogLogger struct {
	log  *slog.Logger
	slow time.Duration
}

func (l *slogLogger) LogMode(logger.LogLevel) logger.Interface { return l }
func (l *slogLogger) Info(context.Context, string, ...any)     {}
func (l *slogLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
}
func (l *slogLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.ErrorContext(ctx, "gorm: "+fmt.Sprintf(msg, args...))
}

// Trace logs slow statements by their verb only: GORM's text carries the
// bound values, which may hold personal data.
func (l *slogLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if d := time.Since(begin); d > l.slow {
		sqlText, rows := fc()
		verb, _, _ := strings.Cut(strings.TrimSpace(sqlText), " ")
		l.log.WarnContext(ctx, "slow query", "elapsed", d, "rows", rows, "verb", verb)
	}
}
