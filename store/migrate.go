package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// migrationFiles holds the schema history. Files are applied in lexical
// order, so their names start with a zero-padded number; a file, once
// released, is never edited: changes go into a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies every embedded migration not yet recorded in
// schema_migrations, each in its own transaction together with its record,
// so a failed migration leaves neither half a schema nor a false record.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", translate(err))
	}

	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	known := make(map[string]bool, len(names))
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		known[version] = true
		if err := db.applyMigration(ctx, name, version); err != nil {
			return fmt.Errorf("migrate %s: %w", version, err)
		}
	}
	return db.warnUnknownMigrations(ctx, known)
}

// applyMigration applies one file unless it is already recorded. The check
// runs inside the (immediate, hence exclusive) transaction, so two processes
// opening the same new file cannot both apply it.
func (db *DB) applyMigration(ctx context.Context, name, version string) error {
	body, err := migrationFiles.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer func() { _ = tx.Rollback() }()

	var n int
	if err := tx.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return translate(err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return translate(err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		version, toMillis(db.clock())); err != nil {
		return translate(err)
	}
	if err := tx.Commit(); err != nil {
		return translate(err)
	}
	db.log.Info("database migration applied", "version", version, "path", db.path)
	return nil
}

// warnUnknownMigrations logs versions recorded by a newer binary: this one
// can usually still run, but the operator should know about the downgrade.
func (db *DB) warnUnknownMigrations(ctx context.Context, known map[string]bool) error {
	rows, err := db.wdb.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if !known[v] {
			db.log.Warn("database has a migration this binary does not know (written by a newer version?)",
				"version", v, "path", db.path)
		}
	}
	return rows.Err()
}

// Migrations returns the versions recorded in schema_migrations, in order.
// Operators and tests use it to see which schema a file carries.
func (db *DB) Migrations(ctx context.Context) ([]string, error) {
	if db.isShut.Load() {
		return nil, ErrClosed
	}
	rows, err := db.rdb.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", translate(err))
	}
	return collect(rows, func(rows *sql.Rows) (string, error) {
		var v string
		err := rows.Scan(&v)
		return v, err
	})
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	return out, nil
}
