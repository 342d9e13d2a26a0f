package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestLogLinesAvoidThePromptLine: a log line written while a --presence
// prompt question waits goes on its own line and the question is asked
// again, so the user's answer is typed after the question, not after a
// log line.
func TestLogLinesAvoidThePromptLine(t *testing.T) {
	var out bytes.Buffer
	term := &terminal{w: &out}
	log := slog.New(slog.NewTextHandler(logWriter{term}, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	log.Info("serving")
	fmt.Fprintf(term, "Touch for %s? [y/N] ", "makeCredential on example.com")
	log.Info("control connection")
	log.Debug("hidden")
	fmt.Fprintln(term, "(accepted by the control socket)")
	log.Info("touch answered")
	want := "level=INFO msg=serving\n" +
		"Touch for makeCredential on example.com? [y/N] \n" +
		"level=INFO msg=\"control connection\"\n" +
		"Touch for makeCredential on example.com? [y/N] (accepted by the control socket)\n" +
		"level=INFO msg=\"touch answered\"\n"
	if got := out.String(); got != want {
		t.Errorf("terminal:\n%s\nwant:\n%s", got, want)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if i := strings.Index(line, "level="); i > 0 {
			t.Errorf("log line after other text: %q", line)
		}
	}
}
