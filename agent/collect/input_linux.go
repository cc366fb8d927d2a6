package collect

import (
	"context"
	"errors"
	"os"
	"strings"
)

// readInputSources on Linux: the system layouts systemd-localed keeps, then
// per logged-on user (a /run/user/<uid> directory) fcitx5's profile and
// GNOME's input sources, read as that user through runuser so dconf
// creates nothing owned by root in their home.
func readInputSources(ctx context.Context, env *Env) (inputSources, error) {
	var s inputSources
	for _, f := range []string{"etc/default/keyboard", "etc/X11/xorg.conf.d/00-keyboard.conf"} {
		if b, err := env.ReadFile(f); err == nil {
			s.add(inputSources{Layouts: parseSystemKeyboard(b)})
		}
	}
	var errs []error
	for _, u := range loggedOnUsers(env) {
		if b, err := env.ReadFile(u.home, ".config/fcitx5/profile"); err == nil {
			s.add(parseFcitx5Profile(b))
		}
		if _, err := os.Stat(env.Path(u.home, ".config/dconf/user")); err != nil {
			continue // no GNOME settings written: gsettings would print defaults
		}
		args := []string{"env", "HOME=" + u.home, "XDG_RUNTIME_DIR=/run/user/" + u.uid,
			"gsettings", "get", "org.gnome.desktop.input-sources", "sources"}
		name := args[0]
		if os.Geteuid() == 0 {
			name, args = "runuser", append([]string{"-u", u.name, "--"}, args...)
		} else {
			args = args[1:]
		}
		out, err := env.Command(ctx, name, args...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.add(parseGsettingsSources(out))
	}
	return s, errors.Join(errs...)
}

// loggedOnUsers are the users systemd-logind keeps a runtime directory for,
// with their home from /etc/passwd.
func loggedOnUsers(env *Env) []unixUser {
	entries, err := os.ReadDir(env.Path("run/user"))
	if err != nil {
		return nil
	}
	uids := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && e.Name() != "0" {
			uids[e.Name()] = true
		}
	}
	if len(uids) == 0 {
		return nil
	}
	passwd, err := env.ReadFile("etc/passwd")
	if err != nil {
		return nil
	}
	return parsePasswd(passwd, uids)
}

// osLocaleName reads the system locale when the agent's environment has
// none (a service started without LANG): /etc/locale.conf or Debian's
// /etc/default/locale.
func osLocaleName(_ context.Context, env *Env) string {
	for _, f := range []string{"etc/locale.conf", "etc/default/locale"} {
		b, err := env.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "LANG="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	return ""
}
