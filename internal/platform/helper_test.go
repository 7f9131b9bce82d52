package platform

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// helperEnv makes the test binary act as a helper program instead of
// running tests: "serve" is a tiny HTTP server that a Local supervises,
// "parent" is a process that itself uses Local (to be kill -9'd).
const helperEnv = "KANARIA_PLATFORM_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		if len(os.Args) > 1 && os.Args[1] == "parent" {
			os.Exit(helperParent(os.Args[2:]))
		}
		os.Exit(helperServe(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helperServe listens on --port and answers with what it knows about
// itself. It can crash, refuse readiness, ignore SIGTERM or fork a child;
// it exits by itself after a minute so a leak cannot outlive the tests.
func helperServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	port := fs.Int("port", 0, "")
	crashAfter := fs.Duration("crash-after", 0, "")
	exitNow := fs.Bool("exit-now", false, "")
	notReady := fs.Bool("not-ready", false, "")
	ignoreTerm := fs.Bool("ignore-term", false, "")
	spawn := fs.Bool("spawn-child", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *exitNow {
		fmt.Fprintln(os.Stderr, "boom: exiting at once on purpose")
		return 3
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if *spawn {
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Printf("child pid %d\n", c.Process.Pid)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if *notReady {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "revision=%s port=%s greeting=%s args=%s",
			os.Getenv("KANARIA_REVISION"), os.Getenv("PORT"), os.Getenv("GREETING"), strings.Join(os.Args[1:], " "))
	})
	go http.Serve(ln, mux)
	fmt.Printf("listening on %d\n", *port)

	var crash <-chan time.Time
	if *crashAfter > 0 {
		crash = time.After(*crashAfter)
	}
	deadline := time.After(time.Minute)
	for range 100 { // bounded: each SIGTERM ignored costs one pass
		select {
		case <-crash:
			fmt.Fprintln(os.Stderr, "boom: crashing on purpose")
			return 3
		case <-sigs:
			if *ignoreTerm {
				fmt.Println("ignoring SIGTERM")
				continue
			}
			fmt.Println("got SIGTERM, exiting")
			return 0
		case <-deadline:
			return 4
		}
	}
	return 5
}

// helperParent runs one supervised server through Local, prints its pid
// once ready, and waits to be killed.
func helperParent(args []string) int {
	l := NewLocal("web", v1alpha1.LocalPlatform{
		Command:   "{{.Kanaria}} --port {{.Port}}",
		Readiness: v1alpha1.Probe{Path: "/healthz", Interval: v1alpha1.Duration(20 * time.Millisecond)},
	}, LocalOptions{LogDir: args[0], KanariaPath: os.Args[0]})
	in := Instance{Rollout: "web", Revision: "v1"}
	if err := l.Ensure(context.Background(), in); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for range 1000 {
		if st, _ := l.State(in); st.Ready {
			fmt.Printf("child %d\n", l.pids(in)[0])
			time.Sleep(time.Minute)
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "never ready")
	return 2
}

// testLocal returns a Local that runs the helper server with extra flags.
func testLocal(t *testing.T, flags string, mod func(*v1alpha1.LocalPlatform)) (*Local, Instance) {
	t.Helper()
	t.Setenv(helperEnv, "1")
	sp := v1alpha1.LocalPlatform{
		Command:     "{{.Kanaria}} --port {{.Port}} " + flags,
		Readiness:   v1alpha1.Probe{Path: "/healthz", Interval: v1alpha1.Duration(20 * time.Millisecond), Timeout: v1alpha1.Duration(20 * time.Second)},
		GracePeriod: v1alpha1.Duration(10 * time.Second),
	}
	if mod != nil {
		mod(&sp)
	}
	l := NewLocal("web", sp, LocalOptions{LogDir: t.TempDir(), KanariaPath: os.Args[0], Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	l.tune.backoffMin = 20 * time.Millisecond
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l.Close(ctx)
	})
	return l, Instance{Rollout: "web", Revision: "v2"}
}

// waitState polls State until cond holds, for at most 20 s.
func waitState(t *testing.T, l *Local, in Instance, what string, cond func(State) bool) State {
	t.Helper()
	var st State
	for range 1000 {
		st, _ = l.State(in)
		if cond(st) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: last state %+v", what, st)
	return st
}

// gone reports whether pid no longer runs (absent, or a zombie nobody has
// reaped yet: a container's init may not reap orphans).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z' || s[i+2] == 'X'
	}
	return false
}

// waitGone waits up to 10 s for pid to end.
func waitGone(t *testing.T, pid int, who string) {
	t.Helper()
	for range 500 {
		if gone(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s (pid %d) still runs", who, pid)
}
