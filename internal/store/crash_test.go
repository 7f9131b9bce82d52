package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv, when set to a database path, makes the test binary act as
// a writer that the crash test kills with SIGKILL.
const crashChildEnv = "KANARIA_STORE_CRASH_CHILD_DB"

// eventsPerTransition is how many events the child writes with each status.
const eventsPerTransition = 3

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

// crashChild writes transitions as fast as it can until it is killed, or
// for at most 30 s / 100000 transitions so a lost parent does not leave it
// running forever.
func crashChild(path string) int {
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, gen, _, err := s.Status(ctx, "web")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("writing")
	deadline := time.Now().Add(30 * time.Second)
	for g := gen + 1; g <= gen+100000 && time.Now().Before(deadline); g++ {
		evs := make([]Event, eventsPerTransition)
		for i := range evs {
			evs[i] = Event{Type: "T", Message: fmt.Sprintf("gen %d event %d", g, i)}
		}
		if err := s.SaveTransition(ctx, "web", g, []byte(fmt.Sprintf(`{"gen":%d}`, g)), evs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		// Acting on a transition comes after SaveTransition returns; the
		// parent checks that whatever was announced here survived the kill.
		fmt.Println(g)
	}
	return 0
}

// A writer is kill -9'd at random moments; after each kill the database
// opens cleanly, passes integrity_check, and holds exactly the transitions
// that committed: a status of generation G with all events of generations
// 1..G, and no event of a generation beyond G.
func TestKillNineLosesNoCommittedTransition(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "kanaria.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	var last int64
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started := make(chan bool, 1)
		announced := make(chan int64, 1) // the last generation the child said it committed
		go func() {
			sc := bufio.NewScanner(out)
			started <- sc.Scan() && sc.Text() == "writing"
			var g int64
			for sc.Scan() {
				fmt.Sscan(sc.Text(), &g)
			}
			announced <- g
		}()
		select {
		case ok := <-started:
			if !ok {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: child did not start writing", round)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child did not start in time", round)
		}
		time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Read the child's output to its end before Wait closes the pipe.
		lastSaid := <-announced
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child was not killed by the signal (it ended first: %v)", round, err)
		}

		gen := checkConsistent(t, path)
		t.Logf("round %d: generation %d (child announced %d)", round, gen, lastSaid)
		if gen < lastSaid {
			t.Fatalf("round %d: child announced generation %d committed, store has %d", round, lastSaid, gen)
		}
		if gen < last {
			t.Fatalf("round %d: generation went back from %d to %d", round, last, gen)
		}
		last = gen
	}
	if last == 0 {
		t.Fatal("the child never committed a transition; the test proved nothing")
	}
}

// checkConsistent opens the database as a restarted control plane would and
// returns the stored generation after checking it against the events.
func checkConsistent(t *testing.T, path string) int64 {
	t.Helper()
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	var integrity string
	if err := s.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	st, gen, ok, err := s.Status(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if ok && string(st) != fmt.Sprintf(`{"gen":%d}`, gen) {
		t.Fatalf("status %s does not belong to generation %d", st, gen)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT generation, count(*) FROM events WHERE rollout = 'web' GROUP BY generation ORDER BY generation`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := int64(1)
	for rows.Next() {
		var g, n int64
		if err := rows.Scan(&g, &n); err != nil {
			t.Fatal(err)
		}
		if g != want {
			t.Fatalf("events of generation %d, expected generation %d next (status is at %d)", g, want, gen)
		}
		if n != eventsPerTransition {
			t.Fatalf("generation %d has %d events, want %d", g, n, eventsPerTransition)
		}
		want++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want-1 != gen {
		t.Fatalf("status at generation %d but events exist up to generation %d", gen, want-1)
	}
	return gen
}
