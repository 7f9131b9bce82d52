package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kanaria.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestRoundTripSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if _, _, ok, err := s.Status(ctx, "web"); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	if err := s.SaveTransition(ctx, "web", 1, []byte(`{"phase":"Healthy"}`), []Event{
		{Type: "Started", Message: "v2", Time: at},
		{Type: "StepReached", Message: "step 1"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveTransition(ctx, "web", 2, []byte(`{"phase":"Paused"}`), []Event{{Type: "Paused", Message: "by user", Time: at}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveTransition(ctx, "api", 1, []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "tokenHash", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, gen, ok, err := s.Status(ctx, "web")
	if err != nil || !ok || gen != 2 || string(st) != `{"phase":"Paused"}` {
		t.Fatalf("Status = %s, %d, %v, %v", st, gen, ok, err)
	}
	evs, err := s.Events(ctx, "web", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3: %+v", len(evs), evs)
	}
	if evs[0].Type != "Started" || !evs[0].Time.Equal(at) || evs[0].Rollout != "web" {
		t.Errorf("first event = %+v", evs[0])
	}
	if evs[1].Time.IsZero() {
		t.Errorf("zero event time not replaced by now: %+v", evs[1])
	}
	if !(evs[0].ID < evs[1].ID && evs[1].ID < evs[2].ID) {
		t.Errorf("ids not increasing: %+v", evs)
	}
	// Paging: after the first ID, limit 1.
	page, err := s.Events(ctx, "web", evs[0].ID, 1)
	if err != nil || len(page) != 1 || page[0].ID != evs[1].ID {
		t.Fatalf("page = %+v, %v", page, err)
	}
	// Another rollout's events are not mixed in.
	if other, _ := s.Events(ctx, "api", 0, 0); len(other) != 0 {
		t.Errorf("api has events %+v", other)
	}
	names, err := s.Rollouts(ctx)
	if err != nil || fmt.Sprint(names) != "[api web]" {
		t.Errorf("Rollouts = %v, %v", names, err)
	}
	v, ok, err := s.Meta(ctx, "tokenHash")
	if err != nil || !ok || string(v) != "abc" {
		t.Errorf("Meta = %q %v %v", v, ok, err)
	}
	if _, ok, _ := s.Meta(ctx, "nope"); ok {
		t.Errorf("unknown meta key found")
	}
}

func TestStaleGenerationRefusedAndNothingWritten(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.SaveTransition(ctx, "web", 5, []byte(`"five"`), []Event{{Type: "A"}}); err != nil {
		t.Fatal(err)
	}
	for _, gen := range []int64{5, 4, 0} {
		err := s.SaveTransition(ctx, "web", gen, []byte(`"stale"`), []Event{{Type: "B"}})
		if !errors.Is(err, ErrStale) {
			t.Fatalf("generation %d: err = %v, want ErrStale", gen, err)
		}
	}
	st, gen, _, _ := s.Status(ctx, "web")
	if gen != 5 || string(st) != `"five"` {
		t.Errorf("status overwritten: %s gen %d", st, gen)
	}
	evs, _ := s.Events(ctx, "web", 0, 0)
	if len(evs) != 1 || evs[0].Type != "A" {
		t.Errorf("stale transition wrote events: %+v", evs)
	}
}

// Several writers race to advance the same rollout, as two control planes
// sharing one state dir would: every generation is won by exactly one of
// them, the losers get ErrStale, and events exist only for the winners.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	// A second handle on the same file, as a second process would have.
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	const writers, gens = 4, 30
	var mu sync.Mutex
	wins := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := s
			if w%2 == 1 {
				db = s2
			}
			for g := int64(1); g <= gens; g++ {
				err := db.SaveTransition(ctx, "web", g, []byte(fmt.Sprint(g)),
					[]Event{{Type: "T", Message: fmt.Sprintf("gen %d by %d", g, w)}})
				switch {
				case err == nil:
					mu.Lock()
					wins[g]++
					mu.Unlock()
				case errors.Is(err, ErrStale):
				default:
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for g := int64(1); g <= gens; g++ {
		if wins[g] > 1 {
			t.Errorf("generation %d written %d times", g, wins[g])
		}
	}
	_, gen, _, _ := s.Status(ctx, "web")
	if gen != gens {
		t.Errorf("final generation %d, want %d", gen, gens)
	}
	evs, _ := s.Events(ctx, "web", 0, 0)
	total := 0
	for _, n := range wins {
		total += n
	}
	if len(evs) != total {
		t.Errorf("%d events for %d successful transitions", len(evs), total)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := Open(path); err == nil {
		s2.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// Analysis evidence is stored with a transition (in its transaction) or on
// its own as a checkpoint, survives a reopen, and a stale transition writes
// none of it.
func TestAnalysisEvidence(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if _, ok, err := s.Analysis(ctx, "web"); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	if err := s.SaveTransitionAnalysis(ctx, "web", 1, []byte(`{"g":1}`), []Event{{Type: "Started"}}, []byte(`[{"key":"a","looks":1}]`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAnalysis(ctx, "web", []byte(`[{"key":"a","looks":7}]`)); err != nil {
		t.Fatal(err)
	}
	// A transition without evidence leaves the checkpoint alone.
	if err := s.SaveTransition(ctx, "web", 2, []byte(`{"g":2}`), nil); err != nil {
		t.Fatal(err)
	}
	err := s.SaveTransitionAnalysis(ctx, "web", 2, []byte(`{"g":"stale"}`), nil, []byte(`[{"key":"stale"}]`))
	if !errors.Is(err, ErrStale) {
		t.Fatalf("stale transition: %v", err)
	}
	s.Close()
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ev, ok, err := s2.Analysis(ctx, "web")
	if err != nil || !ok || string(ev) != `[{"key":"a","looks":7}]` {
		t.Fatalf("after reopen: %q ok=%v err=%v", ev, ok, err)
	}
	if st, gen, _, _ := s2.Status(ctx, "web"); gen != 2 || string(st) != `{"g":2}` {
		t.Fatalf("status %q gen %d", st, gen)
	}
}
