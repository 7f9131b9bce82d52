package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// ErrStale is returned by SaveTransition when the generation is not greater
// than the stored one: another writer (or an older copy of the status) got
// there first, and nothing was written.
var ErrStale = errors.New("store: stale generation")

// Store is the durable state of a control plane. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// maxEvents bounds one Events call so a client cannot make the store read a
// whole long history into memory at once.
const maxEvents = 10000

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
//
// Durability matters more than speed here: a transition is persisted before
// it is acted on, so synchronous=FULL makes every commit reach the disk
// before SaveTransition returns, and a kill -9 (or power loss) cannot lose a
// transition that was already acted on. WAL lets readers (the API) proceed
// while the control plane writes; busy_timeout makes concurrent writers wait
// instead of failing, and _txlock=immediate takes the write lock at BEGIN so
// two read-then-write transactions cannot deadlock on lock upgrade.
func Open(path string) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// SaveTransition stores a rollout's new status together with the events of
// the same transition, in one transaction. A generation not greater than the
// stored one is refused with ErrStale and nothing is written. An event's
// Rollout is taken from the rollout argument; a zero Time is stored as now.
func (s *Store) SaveTransition(ctx context.Context, rollout string, generation int64, status []byte, events []Event) error {
	return s.SaveTransitionAnalysis(ctx, rollout, generation, status, events, nil)
}

// SaveTransitionAnalysis is SaveTransition that also replaces the rollout's
// analysis evidence (when evidence is not nil) in the same transaction, so a
// transition and the evidence it was decided on are stored together.
func (s *Store) SaveTransitionAnalysis(ctx context.Context, rollout string, generation int64, status []byte, events []Event, evidence []byte) error {
	if rollout == "" {
		return errors.New("store: empty rollout name")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() // no-op after Commit

	var stored int64
	err = tx.QueryRowContext(ctx, `SELECT generation FROM status WHERE rollout = ?`, rollout).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("store: read generation: %w", err)
	case generation <= stored:
		return fmt.Errorf("%w: rollout %s has generation %d, refusing %d", ErrStale, rollout, stored, generation)
	}

	now := time.Now()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO status (rollout, generation, status, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (rollout) DO UPDATE SET generation = excluded.generation,
			status = excluded.status, updated_at = excluded.updated_at`,
		rollout, generation, status, now.UnixNano()); err != nil {
		return fmt.Errorf("store: write status: %w", err)
	}
	if evidence != nil {
		if err := saveAnalysis(ctx, tx, rollout, evidence, now); err != nil {
			return err
		}
	}
	for _, e := range events {
		t := e.Time
		if t.IsZero() {
			t = now
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO events (rollout, generation, time, type, message) VALUES (?, ?, ?, ?, ?)`,
			rollout, generation, t.UnixNano(), e.Type, e.Message); err != nil {
			return fmt.Errorf("store: write event: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// SaveAnalysis replaces a rollout's analysis evidence: a checkpoint of
// what its running analyses measured, between transitions.
func (s *Store) SaveAnalysis(ctx context.Context, rollout string, evidence []byte) error {
	if rollout == "" {
		return errors.New("store: empty rollout name")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()
	if err := saveAnalysis(ctx, tx, rollout, evidence, time.Now()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func saveAnalysis(ctx context.Context, tx *sql.Tx, rollout string, evidence []byte, now time.Time) error {
	if evidence == nil {
		evidence = []byte{} // the column is NOT NULL
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO analysis (rollout, evidence, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (rollout) DO UPDATE SET evidence = excluded.evidence, updated_at = excluded.updated_at`,
		rollout, evidence, now.UnixNano()); err != nil {
		return fmt.Errorf("store: write analysis: %w", err)
	}
	return nil
}

// Analysis returns a rollout's stored analysis evidence; ok is false if none
// was ever saved.
func (s *Store) Analysis(ctx context.Context, rollout string) (evidence []byte, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT evidence FROM analysis WHERE rollout = ?`, rollout).Scan(&evidence)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: read analysis: %w", err)
	}
	return evidence, true, nil
}

// Status returns a rollout's stored status and generation; ok is false if
// none was ever saved.
func (s *Store) Status(ctx context.Context, rollout string) (status []byte, generation int64, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT status, generation FROM status WHERE rollout = ?`, rollout).
		Scan(&status, &generation)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("store: read status: %w", err)
	}
	return status, generation, true, nil
}

// Events returns a rollout's events with an ID greater than afterID, oldest
// first, at most limit of them (limit <= 0 or above 10000 means 10000).
// Callers page by passing the last ID they saw.
func (s *Store) Events(ctx context.Context, rollout string, afterID int64, limit int) ([]Event, error) {
	if limit <= 0 || limit > maxEvents {
		limit = maxEvents
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, time, type, message FROM events
		WHERE rollout = ? AND id > ? ORDER BY id LIMIT ?`, rollout, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e := Event{Rollout: rollout}
		var ns int64
		if err := rows.Scan(&e.ID, &ns, &e.Type, &e.Message); err != nil {
			return nil, fmt.Errorf("store: read events: %w", err)
		}
		e.Time = time.Unix(0, ns).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read events: %w", err)
	}
	return out, nil
}

// Rollouts lists the rollouts that have a stored status, by name.
func (s *Store) Rollouts(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rollout FROM status ORDER BY rollout`)
	if err != nil {
		return nil, fmt.Errorf("store: list rollouts: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("store: list rollouts: %w", err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// Meta returns a small stored value (for example the API token's hash); ok
// is false if the key was never set.
func (s *Store) Meta(ctx context.Context, key string) (val []byte, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&val)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: read meta %s: %w", key, err)
	}
	return val, true, nil
}

// SetMeta stores a small value under key, replacing any previous one.
func (s *Store) SetMeta(ctx context.Context, key string, val []byte) error {
	if val == nil {
		val = []byte{} // the column is NOT NULL; an empty value is still a value
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, val)
	if err != nil {
		return fmt.Errorf("store: write meta %s: %w", key, err)
	}
	return nil
}
