package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/store"
)

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Work on a collector's store offline: move it from its bbolt file to PostgreSQL",
	}
	cmd.AddCommand(newStoreCopyCmd())
	return cmd
}

// storeProgressEvery is how often the copy's progress is printed.
const storeProgressEvery = 2 * time.Second

func newStoreCopyCmd() *cobra.Command {
	var from, to string
	var verifyOnly bool
	cmd := &cobra.Command{
		Use:   "copy --from DATA_DIR --to postgres://USER:PASSWORD@HOST:PORT/DATABASE",
		Short: "Copy a stopped collector's bbolt store into an empty PostgreSQL database, and verify the copy",
		Long: `Copies the bbolt store of a stopped collector (its data dir, or the farmwatch.db in it)
into an empty PostgreSQL database: every bucket, nested ones too, every key and value,
and every bucket's sequence. The database's tables are created first; a database that
already holds store data is refused, never merged into or overwritten.

The file is read in one read-only transaction and written in transactions of a few
thousand keys, the completion marker (the store's schema version) last. A copy that is
interrupted leaves a database without the marker, which a later copy refuses: drop and
recreate the database, then copy again.

Then both sides are read back and compared, bucket by bucket: key counts, a SHA-256
over the keys and values in order, and the sequences. The table printed lists each
bucket with its keys, bytes and sequence, and the checksum over the whole store. Any
difference is an error naming the bucket (exit status 1).

The collector must be stopped: a file in use is refused. A store of an older schema
is refused too: start this farmwatch's collector on it once (it migrates the file),
stop it, then copy. --verify compares an earlier copy with the file and changes
nothing. Progress goes to standard error.`,
		Example: `  systemctl stop farmwatch
  farmwatch store copy --from /var/lib/farmwatch --to 'postgres://farmwatch:SECRET@db.example.com:5432/farmwatch'
  farmwatch store copy --verify --from /var/lib/farmwatch --to 'postgres://farmwatch:SECRET@db.example.com:5432/farmwatch'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case from == "":
				return usagef("--from is required: the data dir of the stopped collector (or its farmwatch.db)")
			case to == "":
				return usagef("--to is required: the URL of an empty PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE")
			case !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://"):
				return usagef("--to %q is not a PostgreSQL URL: want postgres://USER:PASSWORD@HOST:PORT/DATABASE", redactURL(to))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := store.CopyOptions{Progress: storeProgress(cmd.ErrOrStderr(), time.Now)}
			var res *store.CopyResult
			var err error
			if verifyOnly {
				res, err = store.VerifyCopy(ctx, from, to, opts)
			} else {
				res, err = store.CopyToPostgres(ctx, from, to, opts)
			}
			if err != nil {
				return err
			}
			return printStoreCopy(cmd.OutOrStdout(), res, verifyOnly)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "data dir of the stopped collector, or its farmwatch.db")
	f.StringVar(&to, "to", "", "URL of the empty PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DATABASE")
	f.BoolVar(&verifyOnly, "verify", false, "compare an earlier copy with the file; copy nothing")
	return cmd
}

// redactURL hides a password in a URL that is not a PostgreSQL one, as
// far as it looks like one.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	if user, _, ok := strings.Cut(rest[:at], ":"); ok {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return s
}

// storeProgress prints a line at most every storeProgressEvery, and when a
// phase starts.
func storeProgress(w io.Writer, now func() time.Time) func(store.CopyProgress) {
	var last time.Time
	var phase string
	start := now()
	return func(p store.CopyProgress) {
		t := now()
		if p.Phase == phase && t.Sub(last) < storeProgressEvery {
			return
		}
		if p.Phase != phase {
			start = t
		}
		phase, last = p.Phase, t
		verb := "copied"
		if p.Phase == "verify" {
			verb = "compared"
		}
		fmt.Fprintf(w, "%s %d keys (%s) in %s; bucket %s\n", verb, p.Keys, megabytes(p.Bytes), t.Sub(start).Round(time.Second), terminalSafe(p.Bucket))
	}
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// rate is n per second over d; 0 for no time at all.
func rate(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}

func printStoreCopy(w io.Writer, res *store.CopyResult, verifyOnly bool) error {
	t := newTable(w, "BUCKET", "KEYS", "BYTES", "SEQUENCE")
	for _, b := range res.Buckets {
		row(t, b.Path, b.Keys, b.Bytes, b.Sequence)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	printf(w, "\n%d buckets, %d keys, %s\n", len(res.Buckets), res.Keys, megabytes(res.Bytes))
	printf(w, "checksum sha256:%x\n", res.Checksum)
	if !verifyOnly {
		printf(w, "copied %s to %s in %s (%.0f keys/s, %.1f MB/s)\n", res.Source, res.Target, res.Copied.Round(time.Millisecond),
			rate(float64(res.Keys), res.Copied), rate(float64(res.Bytes)/1e6, res.Copied))
	}
	printf(w, "verified: the copy in %s matches %s (read back in %s)\n", res.Target, res.Source, res.Verified.Round(time.Millisecond))
	return nil
}
