package main

import (
	"fmt"
	"net"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/internal/console"
)

func newConsoleCmd() *cobra.Command {
	var listen string
	var open bool
	cmd := &cobra.Command{
		Use:   "console [--listen 127.0.0.1:0] [--open=false]",
		Short: "Serve the reviewer console, a local web page over the admin API, on 127.0.0.1",
		Long: `Serve the reviewer console on this machine: the alert queue, alerts with their
evidence and timeline, hires, devices and farm clusters, with acknowledge and
resolve for a reviewer. It talks to the collector with your own admin
certificate (the same connection flags and profile as every command), so the
collector's role checks and audit apply unchanged.

It listens on loopback only and prints a URL with a secret made for this
launch; open that URL (with --open, the default, the browser opens it). Anyone
without the secret gets 403. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLoopback(listen); err != nil {
				return err
			}
			o, err := connOptions()
			if err != nil {
				return err
			}
			name, role, err := o.Identity()
			if err != nil {
				return err
			}
			addr, err := o.Addr()
			if err != nil {
				return err
			}
			admin, closeAdmin, err := adminconn.Dial(o)
			if err != nil {
				return err
			}
			defer closeAdmin()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("console: %w (choose another --listen port)", err)
			}
			defer ln.Close()
			c, err := console.New(console.Config{Admin: admin, Name: name, Role: role, Collector: addr,
				Addr: ln.Addr().String(), Timeout: conn.timeout})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "farmwatch console for %s (%s) at collector %s; open this URL (it holds this launch's secret), stop with Ctrl-C:\n",
				name, role, addr)
			fmt.Fprintln(cmd.OutOrStdout(), c.URL())
			if open {
				if err := openBrowser(c.URL()); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "could not open a browser (%v): open the URL above yourself\n", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return c.Serve(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to serve on, HOST:PORT (port 0: any free port)")
	cmd.Flags().BoolVar(&open, "open", true, "open the console in the default browser")
	return cmd
}

// checkLoopback refuses a --listen that is not a loopback IP address: the
// console is for the reviewer's own machine only.
func checkLoopback(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("--listen %q: want HOST:PORT, e.g. 127.0.0.1:8080", listen)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return usagef("--listen %q: the console serves on loopback only; give 127.0.0.1:PORT", listen)
	}
	return nil
}

// openBrowser asks the desktop to open url.
func openBrowser(url string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", url)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		c = exec.Command("xdg-open", url)
	}
	if err := c.Start(); err != nil {
		return err
	}
	go c.Wait()
	return nil
}
