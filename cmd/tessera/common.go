package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// tokenFlag defines -token, whose default comes from $TESSERA_TOKEN.
func tokenFlag(fs *flag.FlagSet) *string {
	token := os.Getenv("TESSERA_TOKEN")
	fs.Var(secretValue{&token}, "token", "the room's shared `secret` (default $TESSERA_TOKEN): peers without it are refused; it never crosses the wire")
	return &token
}

// secretValue is a flag value that never shows itself (in -h, say).
type secretValue struct{ p *string }

func (v secretValue) String() string     { return "" }
func (v secretValue) Set(s string) error { *v.p = s; return nil }

// logFlag defines -log: the format of the structured logs on stderr.
func logFlag(fs *flag.FlagSet) *string {
	return fs.String("log", "text", "log `format` on stderr: text (human-readable) or json")
}

// newLogger returns the logger of a subcommand: human-readable lines on w,
// or JSON lines with format "json".
func newLogger(w io.Writer, format string) (zerolog.Logger, error) {
	switch format {
	case "text", "":
		cw := zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)}
		return zerolog.New(cw).Level(zerolog.InfoLevel).With().Timestamp().Logger(), nil
	case "json":
		return zerolog.New(w).Level(zerolog.InfoLevel).With().Timestamp().Logger(), nil
	}
	return zerolog.Nop(), badInput(fmt.Errorf("-log %q: want text or json", format))
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
