package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/adminconn"
)

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Client profiles: a collector address and admin credentials in one file, chosen by name",
		Long: `A client profile holds a collector address, its CA, and an admin certificate
with its key: ` + "`farmwatch admin issue`" + ` writes one. Imported profiles live in
the user's config dir (~/.config/farmwatch/profiles on Linux, ~/Library/
Application Support/farmwatch/profiles on macOS). Choose one per call with
--profile NAME (or FARMWATCH_PROFILE), or once with ` + "`farmwatch profile use NAME`" + `.`,
	}
	cmd.AddCommand(newProfileImportCmd(), newProfileListCmd(), newProfileUseCmd())
	return cmd
}

func newProfileImportCmd() *cobra.Command {
	var name string
	var force bool
	cmd := &cobra.Command{
		Use:   "import FILE [--name NAME] [--force]",
		Short: "Copy a profile into the config dir under a name (default: the certificate's name)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := adminconn.ReadProfile(args[0])
			if err != nil {
				return err
			}
			if name == "" {
				name = p.Name
			}
			if name == "" || filepath.Base(name) != name {
				return fmt.Errorf("profile name %q: give --name NAME", name)
			}
			path, err := adminconn.ProfilePath(name)
			if err != nil {
				return err
			}
			if _, err := os.Stat(path); err == nil && !force {
				return fmt.Errorf("profile %s exists (%s): give --force to replace it", name, path)
			}
			if err := adminconn.WriteProfile(path, p); err != nil {
				return fmt.Errorf("import profile %s: %w", name, err)
			}
			printf(cmd.OutOrStdout(), "imported profile %s (%s as %s, %s) to %s\n", name, p.Server, p.Name, p.Role, path)
			if def, _ := adminconn.DefaultProfile(); def == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "use it with --profile %s, or make it the default: farmwatch profile use %s\n", name, name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name to keep it under")
	cmd.Flags().BoolVar(&force, "force", false, "replace a profile of that name")
	return cmd
}

// profileEntry is one profile as `profile list -o json` shows it.
type profileEntry struct {
	Name    string `json:"name"`
	Server  string `json:"server"`
	Admin   string `json:"admin"`
	Role    string `json:"role"`
	Expires string `json:"expires"`
	Default bool   `json:"default"`
	Error   string `json:"error,omitempty"`
}

func newProfileListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "The imported profiles; * marks the default",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			dir, err := adminconn.ProfileDir()
			if err != nil {
				return err
			}
			def, err := adminconn.DefaultProfile()
			if err != nil {
				return err
			}
			files, err := os.ReadDir(dir)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("profiles: %w", err)
			}
			entries := []profileEntry{}
			for _, f := range files {
				if f.IsDir() || strings.HasPrefix(f.Name(), ".") {
					continue
				}
				e := profileEntry{Name: f.Name(), Default: f.Name() == def}
				if p, err := adminconn.ReadProfile(filepath.Join(dir, f.Name())); err != nil {
					e.Error = err.Error()
				} else {
					e.Server, e.Admin, e.Role, e.Expires = p.Server, p.Name, p.Role, p.Expires
				}
				entries = append(entries, e)
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
			if output == "json" {
				b, err := json.MarshalIndent(struct {
					Profiles []profileEntry `json:"profiles"`
				}{entries}, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), string(escapeJSON(b)))
				return err
			}
			tw := newTable(cmd.OutOrStdout(), "", "NAME", "SERVER", "ADMIN", "ROLE", "EXPIRES")
			for _, e := range entries {
				mark := ""
				if e.Default {
					mark = "*"
				}
				if e.Error != "" {
					row(tw, mark, e.Name, "unusable: "+e.Error, "", "", "")
					continue
				}
				row(tw, mark, e.Name, e.Server, e.Admin, e.Role, e.Expires)
			}
			return tw.Flush()
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func newProfileUseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME",
		Short: "Make a profile the default: used when no --profile, --data or FARMWATCH_PROFILE is given",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := adminconn.ProfilePath(args[0])
			if err != nil {
				return err
			}
			if filepath.Base(args[0]) != args[0] {
				return fmt.Errorf("profile use takes a NAME; import %s first (`farmwatch profile import %s`)", args[0], args[0])
			}
			if _, err := adminconn.ReadProfile(path); err != nil {
				return err
			}
			if err := adminconn.SetDefaultProfile(args[0]); err != nil {
				return err
			}
			printf(cmd.OutOrStdout(), "default profile: %s\n", args[0])
			return nil
		},
	}
}
