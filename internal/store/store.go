// Package store keeps kanaria's durable control state: each rollout's status,
// its append-only event history and the evidence of its running analyses, in an embedded SQLite database (WAL) in
// the state directory. A status and the events of the same transition are
// written in one transaction, so a kill -9 at any moment leaves either the old
// transition or the new one, never half of it.
//
// The store knows nothing of the engine: statuses are opaque JSON.
//
//	func Open(path string) (*Store, error)
//	func (s *Store) Close() error
//	func (s *Store) SaveTransition(ctx, rollout string, generation int64, status []byte, events []Event) error
//	    // refuses (ErrStale) a generation not greater than the stored one
//	func (s *Store) SaveTransitionAnalysis(ctx, rollout, generation, status, events, evidence []byte) error
//	    // the same, also replacing the rollout's analysis evidence
//	func (s *Store) SaveAnalysis(ctx, rollout string, evidence []byte) error // a checkpoint between transitions
//	func (s *Store) Analysis(ctx, rollout string) (evidence []byte, ok bool, err error)
//	func (s *Store) Status(ctx, rollout string) (status []byte, generation int64, ok bool, err error)
//	func (s *Store) Events(ctx, rollout string, afterID int64, limit int) ([]Event, error)
//	func (s *Store) Rollouts(ctx) ([]string, error)          // rollouts with a stored status
//	func (s *Store) Meta(ctx, key string) ([]byte, bool, error) // small settings (token hash, ...)
//	func (s *Store) SetMeta(ctx, key string, val []byte) error
package store

import "time"

// Event is one stored line of a rollout's history.
type Event struct {
	ID      int64     `json:"id"`
	Rollout string    `json:"rollout"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Message string    `json:"message"`
}
