// Package clidocs writes the man pages and the bash, zsh and fish completions of a cobra command tree.
// The packages ship them; mkpkg compiles a copy of each command with a file that calls Main (through
// `go build -overlay`), so the shipped binaries carry neither this package nor cobra's doc generator.
package clidocs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Write puts man1/NAME*.1 and completions/{NAME.bash,_NAME,NAME.fish} under dir. The pages are dated
// date and carry no generation stamp, so two runs give the same bytes.
func Write(root *cobra.Command, dir string, date time.Time, source string) error {
	root.DisableAutoGenTag = true
	man := filepath.Join(dir, "man1")
	comp := filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	date = date.UTC()
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: source, Manual: "farmwatch"}
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("man pages of %s: %w", root.Name(), err)
	}
	name := root.Name()
	for file, gen := range map[string]func(*os.File) error{
		name + ".bash": func(f *os.File) error { return root.GenBashCompletionV2(f, true) },
		"_" + name:     func(f *os.File) error { return root.GenZshCompletion(f) },
		name + ".fish": func(f *os.File) error { return root.GenFishCompletion(f, true) },
	} {
		f, err := os.Create(filepath.Join(comp, file))
		if err != nil {
			return err
		}
		err = gen(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("completion %s: %w", file, err)
		}
	}
	return nil
}

// Main is what the docs build of a command runs instead of the command: Write into os.Args[1], dated
// os.Args[2] (Unix seconds), with os.Args[3] as the pages' source line, then exit.
func Main(root *cobra.Command) {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: DOCS-BINARY DIR UNIX-SECONDS SOURCE")
		os.Exit(2)
	}
	secs, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "date:", err)
		os.Exit(2)
	}
	if err := Write(root, os.Args[1], time.Unix(secs, 0), os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
