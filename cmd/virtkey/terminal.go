package main

import (
	"bytes"
	"io"
	"sync"
)

// terminal is the daemon's stderr, shared by the log and the questions of
// --presence prompt. A question waits for its answer at the end of an
// unfinished line; a log line written meanwhile would land on that line,
// after the question, where the user types. Instead it goes on a line of
// its own and the question is asked again below it.
type terminal struct {
	mu      sync.Mutex
	w       io.Writer
	partial []byte // the unfinished last line written by the prompt
}

// Write is the prompt's side: it writes p and remembers an unfinished
// last line.
func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
		t.partial = append(t.partial[:0], p[i+1:]...)
	} else {
		t.partial = append(t.partial, p...)
	}
	return t.w.Write(p)
}

// logWriter is the log's side of a terminal: each Write is one whole log
// line (slog handlers write a record at once).
type logWriter struct{ t *terminal }

func (l logWriter) Write(p []byte) (int, error) {
	t := l.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.partial) == 0 {
		return t.w.Write(p)
	}
	buf := make([]byte, 0, 1+len(p)+len(t.partial))
	buf = append(append(append(buf, '\n'), p...), t.partial...)
	if _, err := t.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
