package supervisor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Log ring limits.
const (
	logRingLines = 500     // lines kept per stage for Logs
	maxLineBytes = 4 << 10 // longer lines are cut in the ring (the file keeps them whole)
)

// logSink is one stage instance's output: a bounded ring of recent lines and
// an append-only file. The reading goroutine of each child process writes to
// it; Logs reads it. Safe for concurrent use.
type logSink struct {
	mu    sync.Mutex
	lines []string // ring of at most logRingLines
	next  int      // index of the oldest line once the ring is full
	file  *os.File // nil if the log file could not be opened
}

func newLogSink(path string) (*logSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return &logSink{}, fmt.Errorf("open stage log: %w", err)
	}
	return &logSink{file: f}, nil
}

// add appends one line (without its newline) to the ring.
func (l *logSink) addLocked(line string) {
	if len(line) > maxLineBytes {
		line = line[:maxLineBytes] + "…"
	}
	if len(l.lines) < logRingLines {
		l.lines = append(l.lines, line)
		return
	}
	l.lines[l.next] = line
	l.next = (l.next + 1) % logRingLines
}

// mark records a supervisor note (e.g. a start or an exit) in ring and file.
func (l *logSink) mark(format string, args ...any) {
	line := fmt.Sprintf("[supervisor %s] ", time.Now().Format("15:04:05.000")) + fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addLocked(line)
	if l.file != nil {
		_, _ = l.file.WriteString(line + "\n")
	}
}

// copyFrom drains r until EOF or an error, line by line. It never stops
// reading because of the ring or the file, so a chatty child never blocks on
// its pipe; the ring drops its oldest lines instead.
func (l *logSink) copyFrom(r io.Reader) {
	br := bufio.NewReaderSize(r, 16<<10)
	var partial []byte // start of an over-long line already in the ring
	cut := false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			l.mu.Lock()
			if l.file != nil {
				_, _ = l.file.Write(chunk)
			}
			switch {
			case err == bufio.ErrBufferFull:
				if !cut {
					partial = append(partial[:0], chunk[:min(len(chunk), maxLineBytes)]...)
					l.addLocked(string(partial) + "…")
					cut = true
				}
			case cut:
				cut = false // the rest of an over-long line: already in the ring
			default:
				line := chunk
				if line[len(line)-1] == '\n' {
					line = line[:len(line)-1]
				}
				if n := len(line); n > 0 && line[n-1] == '\r' {
					line = line[:n-1]
				}
				l.addLocked(string(line))
			}
			l.mu.Unlock()
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// tail returns the last n lines, oldest first (all when n <= 0).
func (l *logSink) tail(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := len(l.lines)
	if n <= 0 || n > total {
		n = total
	}
	out := make([]string, 0, n)
	for i := total - n; i < total; i++ {
		out = append(out, l.lines[(l.next+i)%total])
	}
	return out
}

func (l *logSink) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_ = l.file.Close()
		l.file = nil
	}
}
