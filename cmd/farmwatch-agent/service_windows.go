package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

const (
	serviceName        = "farmwatch-agent"
	serviceDisplayName = "farmwatch agent"
	serviceDescription = "Reports laptop-farm signals of this laptop to the company's farmwatch collector during onboarding. " +
		"Run \"farmwatch-agent collect --json\" to see what it sends."
	// The service manager restarts a failed agent after a minute and forgets
	// earlier failures after a day.
	serviceRestartDelay = time.Minute
	serviceResetPeriod  = 24 * time.Hour
	// configWaitInterval is how often a service installed before its config
	// looks for it.
	configWaitInterval = 30 * time.Second
)

// programDataDir is %ProgramData%\farmwatch: the install config and, below
// it, the agent's state. Only SYSTEM and Administrators may read it.
func programDataDir() string { return filepath.Dir(defaultStateDir()) }

func defaultServiceConfig() string { return filepath.Join(programDataDir(), "agent.json") }

// runUnderServiceManager runs the agent as the Windows service when the
// service manager started this process: the arguments are those given at
// install time ("run --config FILE").
func runUnderServiceManager() (exitCode int, ok bool) {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return 0, false
	}
	elog, err := eventlog.Open(serviceName)
	if err == nil {
		defer elog.Close()
		slog.SetDefault(slog.New(slog.NewTextHandler(eventLogWriter{elog}, nil)))
	}
	if err := svc.Run(serviceName, &agentService{args: os.Args[1:]}); err != nil {
		slog.Error("service", "err", err)
		return 1, true
	}
	return 0, true
}

// agentService is the service handler: it runs the same command line as
// `farmwatch-agent run` and cancels its context on Stop or Shutdown.
type agentService struct{ args []string }

func (s *agentService) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				slog.Error("farmwatch-agent stopped", "err", err)
				return true, 1 // a failure: the recovery actions restart the service
			}
			return false, 0
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 20000}
				cancel()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
				}
				return false, 0
			}
		}
	}
}

func (s *agentService) run(ctx context.Context) error {
	args := s.args
	if len(args) == 0 {
		args = []string{"run", "--config", defaultServiceConfig()}
	}
	if path := flagValue(args, "config"); path != "" {
		// Installed before IT pushed the config: wait for it rather than
		// fail and be restarted every minute.
		for {
			if _, err := os.Stat(path); err == nil {
				break
			}
			slog.Info("waiting for the install config", "path", path)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(configWaitInterval):
			}
		}
	}
	root := newRoot()
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// flagValue finds --name VALUE or --name=VALUE in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// eventLogWriter sends the agent's slog lines to the Application event log.
type eventLogWriter struct{ l *eventlog.Log }

func (w eventLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	var err error
	switch {
	case strings.Contains(msg, "level=ERROR"):
		err = w.l.Error(1, msg)
	case strings.Contains(msg, "level=WARN"):
		err = w.l.Warning(1, msg)
	default:
		err = w.l.Info(1, msg)
	}
	return len(p), err
}

func newServiceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service install|uninstall|start|stop",
		Short: "Install, remove, start or stop the farmwatch-agent Windows service (run as Administrator)",
	}
	var configPath, stateDir string
	install := &cobra.Command{
		Use:   "install [--config FILE] [--state DIR]",
		Short: "Install (or update) the service: automatic start, restart on failure",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return installService(cmd, configPath, stateDir)
		},
	}
	install.Flags().StringVar(&configPath, "config", defaultServiceConfig(), "install config the service reads")
	install.Flags().StringVar(&stateDir, "state", "", "directory for the device identity and spool (default: the config's state_dir or "+defaultStateDir()+")")
	var purge bool
	uninstall := &cobra.Command{
		Use:   "uninstall [--purge]",
		Short: "Stop and remove the service; --purge also deletes the config, identity and spool",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return uninstallService(cmd, purge)
		},
	}
	uninstall.Flags().BoolVar(&purge, "purge", false, "also delete "+programDataDir())
	start := &cobra.Command{
		Use:   "start",
		Short: "Start the service",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(func(s *mgr.Service) error { return s.Start() })
		},
	}
	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the service",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withService(stopService)
		},
	}
	cmd.AddCommand(install, uninstall, start, stop)
	return cmd
}

func installService(cmd *cobra.Command, configPath, stateDir string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if configPath, err = filepath.Abs(configPath); err != nil {
		return err
	}
	if err := restrictDir(programDataDir()); err != nil {
		return fmt.Errorf("protect %s: %w", programDataDir(), err)
	}
	args := []string{"run", "--config", configPath}
	if stateDir != "" {
		args = append(args, "--state", stateDir)
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err == nil {
		// Already installed (an upgrade): point it at this binary and config.
		c, err := s.Config()
		if err == nil {
			c.BinaryPathName = commandLine(exe, args)
			c.DisplayName, c.Description = serviceDisplayName, serviceDescription
			c.StartType, c.DelayedAutoStart = mgr.StartAutomatic, true
			err = s.UpdateConfig(c)
		}
		if err != nil {
			s.Close()
			return fmt.Errorf("update service %s: %w", serviceName, err)
		}
	} else {
		s, err = m.CreateService(serviceName, exe, mgr.Config{
			DisplayName: serviceDisplayName, Description: serviceDescription,
			StartType: mgr.StartAutomatic, DelayedAutoStart: true,
		}, args...)
		if err != nil {
			return fmt.Errorf("create service %s: %w", serviceName, err)
		}
	}
	defer s.Close()
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: serviceRestartDelay},
		{Type: mgr.ServiceRestart, Delay: serviceRestartDelay},
		{Type: mgr.ServiceRestart, Delay: serviceRestartDelay},
	}
	if err := s.SetRecoveryActions(actions, uint32(serviceResetPeriod/time.Second)); err != nil {
		return fmt.Errorf("set recovery actions: %w", err)
	}
	// An agent that returns an error (exit code 1) is restarted too, not
	// only one that crashes.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery actions: %w", err)
	}
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil &&
		!strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("register event log source: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "service %s installed: %s\nit starts at boot; start it now with \"farmwatch-agent service start\"\n",
		serviceName, commandLine(exe, args))
	return nil
}

func uninstallService(cmd *cobra.Command, purge bool) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %s is not installed", serviceName)
	}
	defer s.Close()
	if err := stopService(s); err != nil {
		return err
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("delete service %s: %w", serviceName, err)
	}
	_ = eventlog.Remove(serviceName)
	if purge {
		if err := os.RemoveAll(programDataDir()); err != nil {
			return err
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "service %s removed\n", serviceName)
	return nil
}

func withService(f func(*mgr.Service) error) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %s is not installed: %w", serviceName, err)
	}
	defer s.Close()
	return f(s)
}

// stopService asks the service to stop and waits up to 30 s for it.
func stopService(s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return err
	}
	if st.State == svc.Stopped {
		return nil
	}
	if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stop service %s: %w", serviceName, err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if st, err = s.Query(); err != nil || st.State == svc.Stopped {
			return err
		}
	}
	return fmt.Errorf("service %s did not stop within 30s", serviceName)
}

// restrictDir creates dir with an ACL of SYSTEM and Administrators only,
// not inherited from %ProgramData% (where every user may read): the config
// holds the enrollment token and the state the device's private key.
func restrictDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString("D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}

func commandLine(exe string, args []string) string {
	s := windows.EscapeArg(exe)
	for _, a := range args {
		s += " " + windows.EscapeArg(a)
	}
	return s
}
