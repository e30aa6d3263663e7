package registry

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/sirupsen/logrus"
)

// routeLibraryLogs sends distribution's logrus output to logger.
// distribution logs only through logrus's standard logger (its context
// logger hook is internal), so this is the one process-wide setting the
// server changes; the last registry built wins. Levels map down one step:
// logrus Info (the per-request "response completed" lines, 404 probes
// included, and distribution's start-up chatter) goes to slog Debug, Warn to
// Warn, and Error, Fatal and Panic to Error; logrus Debug and Trace entries
// are not emitted at all (the logger's level is Info).
func routeLibraryLogs(logger *slog.Logger) {
	std := logrus.StandardLogger()
	std.SetOutput(io.Discard)
	std.SetLevel(logrus.InfoLevel)
	std.ReplaceHooks(logrus.LevelHooks{})
	std.AddHook(&slogHook{logger: logger})
}

type slogHook struct{ logger *slog.Logger }

func (h *slogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *slogHook) Fire(e *logrus.Entry) error {
	level := slog.LevelInfo
	switch {
	case strings.HasPrefix(e.Message, "response completed"), e.Level >= logrus.InfoLevel:
		level = slog.LevelDebug
	case e.Level == logrus.WarnLevel:
		level = slog.LevelWarn
	default:
		level = slog.LevelError
	}
	if !h.logger.Enabled(context.Background(), level) {
		return nil
	}
	attrs := make([]any, 0, 2*len(e.Data))
	for k, v := range e.Data {
		if k == "http.request.uri" { // may carry upload state; keep the path only
			if s, ok := v.(string); ok {
				v, _, _ = strings.Cut(s, "?")
			}
		}
		attrs = append(attrs, k, v)
	}
	h.logger.Log(context.Background(), level, "distribution: "+e.Message, attrs...)
	return nil
}
