package main

import (
	"io"
	"log/slog"
	"strings"
)

// logTimeFormat is RFC 3339 in UTC with milliseconds: one form for text and
// JSON logs, sortable, and what log shippers parse without configuration.
const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// newLogHandler is the collector's log handler for --log-format and
// --log-level: text (key=value, logfmt) or JSON lines, times in UTC.
func newLogHandler(w io.Writer, format, level string) (slog.Handler, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "info":
		lv = slog.LevelInfo
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
			return slog.String(slog.TimeKey, a.Value.Time().UTC().Format(logTimeFormat))
		}
		return a
	}}
	switch format {
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}
