package platform

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/kanaria-dev/kanaria/internal/engine"
)

// LogFiles returns the log files of a version's instances that exist, in
// instance order. They outlive the processes, so a stopped or failed
// version's logs can still be read.
func (l *Local) LogFiles(in Instance) []string {
	key := engine.VersionKey(in.Revision, in.Baseline)
	var out []string
	for i := range l.spec.Instances {
		path := l.logPath(key, i)
		if _, err := os.Stat(path); err == nil {
			out = append(out, path)
		}
	}
	return out
}

// Logs writes the last tail lines of each instance's log to w (all of it
// when tail <= 0), each under a "==> path <==" header when there are
// several instances, as tail(1) does.
func (l *Local) Logs(in Instance, tail int, w io.Writer) error {
	files := l.LogFiles(in)
	if len(files) == 0 {
		return fmt.Errorf("rollout %s: no logs for %s", l.rollout, engine.VersionKey(in.Revision, in.Baseline))
	}
	for i, path := range files {
		if len(files) > 1 {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "==> %s <==\n", path)
		}
		if err := writeLog(path, tail, w); err != nil {
			return err
		}
	}
	return nil
}

// writeLog copies one log file, or its last tail lines, to w.
func writeLog(path string, tail int, w io.Writer) error {
	if tail > 0 {
		lines, err := tailLines(path, tail)
		if err != nil {
			return err
		}
		for _, line := range lines {
			if _, err := fmt.Fprintln(w, line); err != nil {
				return err
			}
		}
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// tailLines returns the last n lines of a file without reading all of it:
// it reads backwards in blocks until it has n line breaks, and never more
// than 4 MiB, so a huge log with a giant last line stays cheap.
func tailLines(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	const block, limit = 32 << 10, 4 << 20
	var buf []byte
	off := size
	for off > 0 && size-off < limit && bytes.Count(buf, []byte{'\n'}) <= n {
		step := min(int64(block), off)
		off -= step
		chunk := make([]byte, step)
		if _, err := f.ReadAt(chunk, off); err != nil {
			return nil, err
		}
		buf = append(chunk, buf...)
	}
	buf = bytes.TrimSuffix(buf, []byte{'\n'})
	if len(buf) == 0 {
		return nil, nil
	}
	lines := bytes.Split(buf, []byte{'\n'})
	if off > 0 && len(lines) > 0 {
		lines = lines[1:] // the first is probably cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out, nil
}
