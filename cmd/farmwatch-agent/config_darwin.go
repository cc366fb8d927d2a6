package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// On macOS an MDM pushes the install config as managed preferences; a
// config file in /Library/Application Support/farmwatch is the fallback for
// Macs without an MDM.
var (
	managedPreferencesFile = filepath.Join("/Library/Managed Preferences", managedPreferencesDomain+".plist")
	darwinConfigFile       = "/Library/Application Support/farmwatch/agent.json"
)

func init() { managedInstallConfig = darwinInstallConfig }

func darwinInstallConfig() (*installConfig, error) {
	if _, err := os.Stat(managedPreferencesFile); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// plutil reads binary and XML plists alike and prints JSON.
		out, err := exec.CommandContext(ctx, "/usr/bin/plutil", "-convert", "json", "-o", "-", managedPreferencesFile).Output()
		if err != nil {
			return nil, fmt.Errorf("plutil %s: %w", managedPreferencesFile, err)
		}
		return parseManagedPreferences(out, managedPreferencesFile)
	}
	if _, err := os.Stat(darwinConfigFile); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return loadInstallConfig(darwinConfigFile)
}
