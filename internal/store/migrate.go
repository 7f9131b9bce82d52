package store

import (
	"context"
	"fmt"
)

// migrations bring the schema from version i to i+1 (PRAGMA user_version).
// Append only: a released migration is never edited, so a database written
// by any earlier kanaria can be brought up to date.
var migrations = []string{
	// 1: statuses, their events, and small key/value settings. Times are unix
	// nanoseconds so ordering and round-trips are exact. events.generation
	// ties each event to the transition that wrote it.
	`CREATE TABLE status (
		rollout    TEXT PRIMARY KEY,
		generation INTEGER NOT NULL,
		status     BLOB NOT NULL,
		updated_at INTEGER NOT NULL
	);
	CREATE TABLE events (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		rollout    TEXT NOT NULL,
		generation INTEGER NOT NULL,
		time       INTEGER NOT NULL,
		type       TEXT NOT NULL,
		message    TEXT NOT NULL
	);
	CREATE INDEX events_by_rollout ON events (rollout, id);
	CREATE TABLE meta (
		key   TEXT PRIMARY KEY,
		value BLOB NOT NULL
	);`,
	// 2: the evidence of a rollout's running analyses (counts, latency
	// reservoirs, looks), opaque JSON like the status, one row per rollout.
	`CREATE TABLE analysis (
		rollout    TEXT PRIMARY KEY,
		evidence   BLOB NOT NULL,
		updated_at INTEGER NOT NULL
	);`,
}

// migrate applies the migrations the database has not seen yet, each in its
// own transaction together with its user_version bump, so a crash during a
// migration leaves the previous version intact.
func (s *Store) migrate(ctx context.Context) error {
	// Each pass applies one migration or returns, so len+1 passes suffice.
	for range len(migrations) + 1 {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var v int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
		if v > len(migrations) {
			tx.Rollback()
			return fmt.Errorf("schema version %d is newer than this kanaria knows (%d): upgrade kanaria", v, len(migrations))
		}
		if v == len(migrations) {
			return tx.Rollback()
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to schema %d: %w", v+1, err)
		}
		// PRAGMA takes no bound parameters; v+1 is an integer we computed.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate: set schema version %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to schema %d: %w", v+1, err)
		}
	}
	return fmt.Errorf("migrate: schema version still changing after %d passes", len(migrations)+1)
}
